"""The synthetic demo shop behind ``kequn demo``: realistic data for trying and benchmarking."""

from kequn.demo.generate import DemoError, generate_shop

__all__ = ["DemoError", "generate_shop"]
