"""Simulation without hardware: the bit-exact functional chain through every toolchain stage,
stream packing checks, and cycle-level RTL simulation of FINN's RTL layers with Verilator."""
