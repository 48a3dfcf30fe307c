# Read by make after Brian2's own makefile (hm_neuro.engines.brian2.device.configure).
#
# Header dependencies: each compile writes its object's own (-MMD, at no
# cost: it is the compile's preprocessing), in place of Brian2's make.deps,
# which preprocessed every source again in one serial pass before anything
# compiled (~3 s of a 16-8-1 build's ~11); the make command creates an empty
# make.deps when there is none.  With -MMD ccache's depend mode applies too:
# a miss is one compile, not a preprocessing run first.
CXXFLAGS += -MMD
-include $(OBJS:.o=.d)

# objects.cpp only allocates, loads and writes the arrays (no arithmetic of
# the circuit): the build's largest source, ~2.5 s at -O3, ~1.4 s at -O1.
objects.o: OPTIMISATIONS += -O1
