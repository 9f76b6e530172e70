//! Training: hand-written backpropagation through time, Adam, the loop, checkpoints.
