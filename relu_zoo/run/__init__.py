"""The sweep runner behind `train.py`, one concern per module, each importing only the ones listed before it:

    values      one configuration value: conversion and checks, errors that name the fix
    spec        the sweep configuration: defaults -> preset -> config file -> command line, validated
    plan        the grid of runs (task x model x activation x seed) and its shards
    store       the output folder: atomic writes, run records, resume state, quarantine, loading results
    records     finished runs' records copied out of a work folder and back (sweeps that span sessions)
    locks       per-run locks, so several processes on one output folder train each run once
    callbacks   the Keras callbacks of a run (timing, divergence, lookahead, atomic backups) and PeakMemory
    distribute  one device, all local devices, or synchronous multi-worker training
    precision   the dtype policy of `precision: auto` on this machine (GPU capability, CPU bfloat16 flags)
    optim       the optimizer, its learning-rate schedule and the loss
    train       one run: model, data, fit, evaluate, record
    stats       statistics across seeds; plots: the report's figures
    sequential  `target_ci`'s design: the planned looks, their intervals' corrected level, the stopping rule
    report      results.json / results.csv / summary.md / plots from finished runs
    sweep       every unfinished run of the grid, then the report
    rounds      a `target_ci` sweep: rounds of seeds until the paired intervals are narrow enough
    ray_sweep   the same on a Ray cluster, one Ray task per run (`train.py --ray`; imports Ray, optional)

The one workaround that touches private Keras API (multi-worker `fit`) is in `relu_zoo._compat`.
"""
