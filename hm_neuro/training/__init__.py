"""Training: schedules (:mod:`.schedules`), data streams (:mod:`.streams`),
the loop over chunks and populations (:mod:`.loop`) and checkpoints
(:mod:`.checkpoints`)."""

from .checkpoints import Checkpointing, Interrupted, array_digest, checkpoint_progress, load_checkpoint, save_checkpoint
from .loop import TrainResult, data_rows_for, plan_chunks, train, train_population
from .schedules import EPOCH_KINDS, MAX_EXAMPLES, Epoch, parse_schedule, schedule_gates
from .streams import BarsStream, SweepStream, stream_for

__all__ = [
    "train",
    "train_population",
    "TrainResult",
    "data_rows_for",
    "plan_chunks",
    "Checkpointing",
    "Interrupted",
    "array_digest",
    "checkpoint_progress",
    "load_checkpoint",
    "save_checkpoint",
    "Epoch",
    "EPOCH_KINDS",
    "MAX_EXAMPLES",
    "parse_schedule",
    "schedule_gates",
    "BarsStream",
    "SweepStream",
    "stream_for",
]
