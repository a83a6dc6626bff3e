"""Benchmarks of relu_zoo: each module is a script (`python benchmarks/<name>.py --help`) whose functions the
tests also import. They import relu_zoo and each other explicitly; relu_zoo never imports them."""
