"""Adapters at the edges: price files and bundled data, the paper, ccxt and Uniswap venues, the databases."""
