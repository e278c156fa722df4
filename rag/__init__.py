"""Core library: settings, index store, dense and sparse search."""
