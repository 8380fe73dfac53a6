"""Studies: leaf scripts over the training library (the experiments, the baselines, inside the LSTM, reliability,
your data); none imports another (tests/test_layers.py). The release recipe (training.release) and the ablation it
is measured by (training.ablation) are library modules."""
