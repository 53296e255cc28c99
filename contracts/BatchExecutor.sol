// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @dev The two Uniswap V2 pair functions the direct mode needs.
interface IUniswapV2PairLike {
    function getReserves() external view returns (uint112 reserve0, uint112 reserve1, uint32 blockTimestampLast);
    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata data) external;
}

/// @dev The one Uniswap V2 Router02 function the router mode needs.
interface IUniswapV2RouterLike {
    function swapExactTokensForTokens(
        uint256 amountIn,
        uint256 amountOutMin,
        address[] calldata path,
        address to,
        uint256 deadline
    ) external returns (uint256[] memory amounts);
}

/// @title BatchExecutor: run an ordered list of Uniswap V2 exact-input swaps for one wallet, all or nothing.
/// @notice Only `owner` may call. Inputs are pulled from the owner and outputs are paid to the owner, so the
/// contract holds no funds between transactions. Every leg has its own minimum output, the batch a deadline;
/// any failing leg reverts the whole transaction. Fee-on-transfer and rebasing tokens are not supported.
contract BatchExecutor {
    using SafeERC20 for IERC20;

    /// @notice One exact-input swap: spend `amountIn` of `path[0]`, receive at least `minOut` of `path[last]`.
    struct Leg {
        address[] path;
        uint256 amountIn;
        uint256 minOut;
    }

    address public immutable owner;
    address public immutable router;
    address public immutable factory;
    bytes32 public immutable pairInitCodeHash;

    error NotOwner();
    error ZeroAddress();
    error EmptyBatch();
    error Expired(uint256 deadline, uint256 timestamp);
    error InvalidPath(uint256 leg);
    error ZeroAmount(uint256 leg);
    error PairMissing(uint256 leg, address tokenA, address tokenB);
    error InsufficientLiquidity(uint256 leg);
    error InsufficientOutput(uint256 leg, uint256 amountOut, uint256 minOut);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    /// @param owner_ the wallet this executor serves (the only allowed caller and the only payee)
    /// @param router_ Uniswap V2 Router02 used by `executeViaRouter`
    /// @param factory_ Uniswap V2 factory whose pairs `executeDirect` trades against
    /// @param pairInitCodeHash_ keccak256 of the pair creation code of that factory (CREATE2 pair addresses)
    constructor(address owner_, address router_, address factory_, bytes32 pairInitCodeHash_) {
        if (owner_ == address(0) || router_ == address(0) || factory_ == address(0)) revert ZeroAddress();
        owner = owner_;
        router = router_;
        factory = factory_;
        pairInitCodeHash = pairInitCodeHash_;
    }

    /// @notice Run the legs in order through Router02; returns each leg's output amount.
    function executeViaRouter(Leg[] calldata legs, uint256 deadline)
        external
        onlyOwner
        returns (uint256[] memory amountsOut)
    {
        _checkBatch(legs.length, deadline);
        amountsOut = new uint256[](legs.length);
        for (uint256 i = 0; i < legs.length; ++i) {
            amountsOut[i] = _routerLeg(legs[i], i, deadline);
        }
    }

    /// @notice Run the legs in order directly on the pairs (owner -> first pair -> ... -> owner).
    function executeDirect(Leg[] calldata legs, uint256 deadline)
        external
        onlyOwner
        returns (uint256[] memory amountsOut)
    {
        _checkBatch(legs.length, deadline);
        amountsOut = new uint256[](legs.length);
        for (uint256 i = 0; i < legs.length; ++i) {
            amountsOut[i] = _directLeg(legs[i], i);
        }
    }

    /// @notice Return tokens sent here by mistake to the owner (the executor never keeps funds on purpose).
    function rescue(address token, uint256 amount) external onlyOwner {
        IERC20(token).safeTransfer(owner, amount);
    }

    /// @notice UniswapV2Library.getAmountOut: x*y=k with the 0.3% fee, same integer rounding.
    function getAmountOut(uint256 amountIn, uint256 reserveIn, uint256 reserveOut)
        public
        pure
        returns (uint256)
    {
        uint256 amountInWithFee = amountIn * 997;
        return (amountInWithFee * reserveOut) / (reserveIn * 1000 + amountInWithFee);
    }

    /// @notice The CREATE2 address of the factory's pair for two tokens (UniswapV2Library.pairFor).
    function pairFor(address tokenA, address tokenB) public view returns (address) {
        (address token0, address token1) = tokenA < tokenB ? (tokenA, tokenB) : (tokenB, tokenA);
        bytes32 salt = keccak256(abi.encodePacked(token0, token1));
        return address(uint160(uint256(keccak256(abi.encodePacked(hex"ff", factory, salt, pairInitCodeHash)))));
    }

    function _checkBatch(uint256 n, uint256 deadline) private view {
        if (n == 0) revert EmptyBatch();
        if (block.timestamp > deadline) revert Expired(deadline, block.timestamp);
    }

    function _checkLeg(Leg calldata leg, uint256 i) private pure {
        if (leg.path.length < 2) revert InvalidPath(i);
        if (leg.amountIn == 0) revert ZeroAmount(i);
    }

    function _routerLeg(Leg calldata leg, uint256 i, uint256 deadline) private returns (uint256) {
        _checkLeg(leg, i);
        IERC20 tokenIn = IERC20(leg.path[0]);
        tokenIn.safeTransferFrom(msg.sender, address(this), leg.amountIn);
        tokenIn.forceApprove(router, leg.amountIn);
        uint256[] memory amounts = IUniswapV2RouterLike(router).swapExactTokensForTokens(
            leg.amountIn, leg.minOut, leg.path, msg.sender, deadline
        );
        return amounts[amounts.length - 1];
    }

    function _directLeg(Leg calldata leg, uint256 i) private returns (uint256 out) {
        _checkLeg(leg, i);
        uint256[] memory amounts = _amountsOut(leg, i);
        out = amounts[amounts.length - 1];
        if (out < leg.minOut) revert InsufficientOutput(i, out, leg.minOut);
        IERC20(leg.path[0]).safeTransferFrom(msg.sender, pairFor(leg.path[0], leg.path[1]), leg.amountIn);
        _swapHops(amounts, leg.path, msg.sender);
    }

    function _amountsOut(Leg calldata leg, uint256 i) private view returns (uint256[] memory amounts) {
        uint256 hops = leg.path.length - 1;
        amounts = new uint256[](hops + 1);
        amounts[0] = leg.amountIn;
        for (uint256 h = 0; h < hops; ++h) {
            (uint256 reserveIn, uint256 reserveOut) = _reserves(leg.path[h], leg.path[h + 1], i);
            amounts[h + 1] = getAmountOut(amounts[h], reserveIn, reserveOut);
        }
    }

    function _reserves(address tokenIn, address tokenOut, uint256 i)
        private
        view
        returns (uint256 reserveIn, uint256 reserveOut)
    {
        if (tokenIn == tokenOut) revert InvalidPath(i);
        address pair = pairFor(tokenIn, tokenOut);
        if (pair.code.length == 0) revert PairMissing(i, tokenIn, tokenOut);
        (uint112 r0, uint112 r1,) = IUniswapV2PairLike(pair).getReserves();
        (reserveIn, reserveOut) = tokenIn < tokenOut ? (uint256(r0), uint256(r1)) : (uint256(r1), uint256(r0));
        if (reserveIn == 0 || reserveOut == 0) revert InsufficientLiquidity(i);
    }

    function _swapHops(uint256[] memory amounts, address[] calldata path, address to) private {
        uint256 last = path.length - 2;
        for (uint256 h = 0; h <= last; ++h) {
            address recipient = h < last ? pairFor(path[h + 1], path[h + 2]) : to;
            _swapHop(path[h], path[h + 1], amounts[h + 1], recipient);
        }
    }

    function _swapHop(address tokenIn, address tokenOut, uint256 amountOut, address recipient) private {
        (uint256 out0, uint256 out1) = tokenIn < tokenOut ? (uint256(0), amountOut) : (amountOut, uint256(0));
        IUniswapV2PairLike(pairFor(tokenIn, tokenOut)).swap(out0, out1, recipient, new bytes(0));
    }
}
