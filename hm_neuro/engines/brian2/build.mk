# Read by make after Brian2's own makefile, as unity.mk (hm_neuro.engines.brian2.device.make_command).
#
# Header dependencies: each compile writes its object's own (-MMD, at no
# cost: it is the compile's preprocessing), in place of Brian2's make.deps,
# which preprocessed every source again (~0.045 s a source); the make command
# creates an empty make.deps when there is none.  With -MMD ccache's depend
# mode applies too: a miss is one compile, not a preprocessing run first.
CXXFLAGS += -MMD
-include $(OBJS:.o=.d)

# objects.cpp only allocates, loads and writes the arrays (no arithmetic of
# the circuit, which is in the code objects, still at Brian2's -O3): the
# build's largest source, ~2 s (16-8-1) to ~5 s (four hidden layers) at -O3,
# ~1 s at -O0.
objects.o: OPTIMISATIONS += -O0
