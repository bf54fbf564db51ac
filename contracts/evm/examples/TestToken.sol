// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice A minimal ERC-20 token for tests: its deployer mints, holders transfer. Enough for the
/// transfer watches of subscriptions (`Transfer` events of mints, transfers and burns); no allowances.
contract TestToken {
    string public constant name = "Test Token";
    string public constant symbol = "TST";
    uint8 public constant decimals = 18;
    address public immutable minter;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;

    event Transfer(address indexed from, address indexed to, uint256 value);

    error NotMinter();
    error InsufficientBalance();

    constructor() {
        minter = msg.sender;
    }

    function mint(address to, uint256 value) external {
        if (msg.sender != minter) revert NotMinter();
        totalSupply += value;
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    function burn(uint256 value) external {
        _move(msg.sender, address(0), value);
        totalSupply -= value;
    }

    function _move(address from, address to, uint256 value) private {
        if (balanceOf[from] < value) revert InsufficientBalance();
        balanceOf[from] -= value;
        if (to != address(0)) balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}

/// @notice An ERC-721-shaped `Transfer` (the token id indexed: the same topic as ERC-20's, one more
/// topic and no data), for tests that a reader of ERC-20 transfers leaves such logs out.
contract TestNft {
    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);

    function transferFrom(address from, address to, uint256 tokenId) external {
        emit Transfer(from, to, tokenId);
    }
}
