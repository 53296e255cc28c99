// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

interface IUniswapV2Router02Min {
    function swapExactTokensForTokens(uint256 amountIn, uint256 amountOutMin, address[] calldata path, address to, uint256 deadline)
        external
        returns (uint256[] memory amounts);
}

/// @title YieldMigrator: deposit, withdraw and migrate between ERC-4626 vaults (with a Uniswap V2 swap between
///        their assets) in one atomic transaction, every step guarded by a minimum output.
/// @notice One contract per wallet, no custody between transactions: it pulls from the owner and pays the owner.
///         A step is: redeem `shares` of `fromVault` (or pull `amountIn` of the first token from the owner when
///         fromVault is zero), swap along `path` when it has two or more tokens, then deposit into `toVault` for
///         the owner (or pay the tokens to the owner when toVault is zero). Any failed guard reverts the batch.
contract YieldMigrator {
    using SafeERC20 for IERC20;

    struct Step {
        address fromVault;
        uint256 shares;
        uint256 minAssets;
        uint256 amountIn;
        address[] path;
        uint256 minSwapOut;
        address toVault;
        uint256 minShares;
    }

    address public immutable owner;
    IUniswapV2Router02Min public immutable router;

    error NotOwner();
    error EmptyBatch();
    error Expired(uint256 deadline, uint256 timestamp);
    error InsufficientOutput(uint256 step, uint8 stage, uint256 amountOut, uint256 minOut);
    error TokenMismatch(uint256 step, address expected, address got);
    error ZeroAmount(uint256 step);

    event Migrated(uint256 indexed step, address fromVault, address toVault, uint256 assetsIn, uint256 swapOut, uint256 amountOut);

    constructor(address owner_, address router_) {
        owner = owner_;
        router = IUniswapV2Router02Min(router_);
    }

    /// @return out per step: shares of toVault received, or tokens paid to the owner when toVault is zero
    function migrate(Step[] calldata steps, uint256 deadline) external returns (uint256[] memory out) {
        if (msg.sender != owner) revert NotOwner();
        if (block.timestamp > deadline) revert Expired(deadline, block.timestamp);
        if (steps.length == 0) revert EmptyBatch();
        out = new uint256[](steps.length);
        for (uint256 i = 0; i < steps.length; ++i) {
            out[i] = _step(i, steps[i], deadline);
        }
    }

    function _step(uint256 i, Step calldata s, uint256 deadline) private returns (uint256) {
        address token;
        uint256 amount;
        if (s.fromVault != address(0)) {
            if (s.shares == 0) revert ZeroAmount(i);
            token = IERC4626(s.fromVault).asset();
            amount = IERC4626(s.fromVault).redeem(s.shares, address(this), owner);
            if (amount < s.minAssets) revert InsufficientOutput(i, 0, amount, s.minAssets);
        } else {
            if (s.amountIn == 0) revert ZeroAmount(i);
            token = s.path.length > 0 ? s.path[0] : IERC4626(s.toVault).asset();
            amount = s.amountIn;
            IERC20(token).safeTransferFrom(owner, address(this), amount);
        }
        uint256 start = amount;
        uint256 swapped = amount;
        if (s.path.length >= 2) {
            if (s.path[0] != token) revert TokenMismatch(i, token, s.path[0]);
            IERC20(token).forceApprove(address(router), amount);
            uint256[] memory amounts = router.swapExactTokensForTokens(amount, s.minSwapOut, s.path, address(this), deadline);
            amount = amounts[amounts.length - 1];
            token = s.path[s.path.length - 1];
            if (amount < s.minSwapOut) revert InsufficientOutput(i, 1, amount, s.minSwapOut);
            swapped = amount;
        }
        uint256 result;
        if (s.toVault != address(0)) {
            address want = IERC4626(s.toVault).asset();
            if (want != token) revert TokenMismatch(i, want, token);
            IERC20(token).forceApprove(s.toVault, amount);
            result = IERC4626(s.toVault).deposit(amount, owner);
            if (result < s.minShares) revert InsufficientOutput(i, 2, result, s.minShares);
        } else {
            IERC20(token).safeTransfer(owner, amount);
            result = amount;
            if (result < s.minShares) revert InsufficientOutput(i, 2, result, s.minShares);
        }
        emit Migrated(i, s.fromVault, s.toVault, start, swapped, result);
        return result;
    }
}
