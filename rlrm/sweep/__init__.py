"""Training sweeps on Ray Tune (``rlrm sweep``): search spaces, the trial, the sweep and its summary.

Needs the ``sweep`` extra (``pip install "rlrm[sweep]"``, i.e. ``ray[tune]``); nothing here
imports Ray until a sweep starts.
"""
