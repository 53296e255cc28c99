// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title TestYieldVault: OpenZeppelin 5.7's ERC-4626 vault, unchanged, plus a withdrawal limit; local-chain tests only.
/// @notice Interest accrues when underlying arrives in the vault (the test mints it to follow a real liquidity
///         index). `liquidityCap` stands in for a lending pool's available liquidity (supplied minus borrowed):
///         no more assets than that can leave at once, as with Aave at high utilisation.
contract TestYieldVault is ERC4626, Ownable {
    uint256 public liquidityCap = type(uint256).max;

    constructor(IERC20 asset_, string memory name_, string memory symbol_)
        ERC4626(asset_)
        ERC20(name_, symbol_)
        Ownable(msg.sender)
    {}

    /// @notice Assets withdrawable at once (all owners together); type(uint256).max = no limit.
    function setLiquidityCap(uint256 cap) external onlyOwner {
        liquidityCap = cap;
    }

    function maxWithdraw(address owner_) public view override returns (uint256) {
        return Math.min(super.maxWithdraw(owner_), liquidityCap);
    }

    function maxRedeem(address owner_) public view override returns (uint256) {
        uint256 all = super.maxRedeem(owner_);
        if (liquidityCap == type(uint256).max) return all;
        return Math.min(all, _convertToShares(liquidityCap, Math.Rounding.Floor));
    }
}
