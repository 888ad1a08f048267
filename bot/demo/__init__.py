"""The offline demo: stand-in upstreams, invented records and a narrated run of the real CLI."""
