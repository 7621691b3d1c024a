"""Hardware blocks (Amaranth components): stores, multiplier array, dot-product pipeline,
threshold filter, completion unit, token issue, stream helpers, the AXI4 read master. Stages compose them."""
