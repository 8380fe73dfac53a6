"""Studies: the release, the ablation, the experiments and the baselines, each a script over the training library."""
