"""Files: data sets and data files (:mod:`.data`), model, history and result
files (:mod:`.model_io`), and output locations checked before any work
(:mod:`.outputs`)."""
