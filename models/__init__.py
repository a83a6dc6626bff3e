"""relu_zoo's pretrained checkpoints, installed as the `relu-zoo-models` distribution (`pip install ./models`).

Each `<model>_<activation>.<task>/` folder beside this file is one checkpoint; `relu_zoo.pretrained` finds the
folder through the `relu_zoo.checkpoints` entry point (pyproject.toml here) and reads it as package data.
"""
