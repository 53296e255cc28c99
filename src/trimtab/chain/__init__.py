"""Local EVM tooling: anvil, Uniswap V2/V3 deployment, exact V2 quotes and atomic swap batches.

Imports web3, so nothing in trimtab.core may import this package.
"""
