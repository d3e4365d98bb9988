"""The kinds of token mixer and feed-forward block, one module per family of kinds; each
defines BLOCKS (and FEATURES). The registry that gathers them is mfu_sym/kinds.py."""
