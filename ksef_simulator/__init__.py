"""A local stand-in for the government side of KSeF 2.0 (API under /ksef-sim/v2 and its web pages).

Development and test tool only; installed when KSEF_SIMULATOR_ENABLED is true.
"""
