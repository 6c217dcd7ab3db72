"""mrczio benchmarks: the MRCZ paper's Table 1 and Figure 2, reproduced side by side with
the tools a user would pick instead, plus the project's performance goals.

Run ``python -m benchmarks.run --quick`` (seconds, what CI runs) or ``--full`` (K2-size
frames, about 10 minutes); ``mrczio bench`` does the same from a source checkout. Not
installed with the wheel.
"""
