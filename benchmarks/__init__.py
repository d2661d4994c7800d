"""Speed and memory of ndgrad against hand-written NumPy, autograd, MyGrad and PyTorch.

Run ``python -m benchmarks`` (or ``--quick``); see ``benchmarks/run.py``.
"""
