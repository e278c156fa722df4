"""The applications at the top of the layering: the `rag` command line and the HTTP API. They
wire the core (`rag/`, `ingest/`) to the other apps (`ui/`, `eval/`, `bench/`); nothing in the
core imports them."""

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2  # every file went in / some failed / usage error or nothing done
