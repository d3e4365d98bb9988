"""One module per command: options in, library call, renderer (mfu_sym.render) out. Each
imports only click, options.py and types.py at the top (lean start-up), never cli.py."""
