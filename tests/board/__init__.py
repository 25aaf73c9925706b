"""The board-runtime tests: NumPy (+ psutil, tomli) only, Python 3.8+.

``.ci/run`` runs this folder under Python 3.8 and 3.10 with the default install (as on a
Jetson with JetPack 5), then the whole suite under 3.11. Which modules are the board runtime:
:data:`rlrm.extras.BOARD_RUNTIME`.
"""
