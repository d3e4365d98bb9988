"""Readers of Hugging Face layer patterns, one module per family of architectures; each
defines PATTERNS (name -> reader). The registry that gathers them is
mfu_sym/patterns.py."""
