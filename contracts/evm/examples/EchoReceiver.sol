// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {NslMessageReceiverBase} from "../lib/NslMessageReceiverBase.sol";

/// @notice An example receiver of cross-chain messages that answers back: it keeps the last message and
/// returns `"echo:" || payload`, which the gateway sends back to the sender as the receipt's result.
/// Only the gateway may call it (`NslMessageReceiverBase`: anyone else gets `NotTheGateway()`). Its
/// deployer can close it (every message then reverts with "echo receiver closed") and open it again: a
/// closed receiver's messages stay `Failed` at the gateway until someone retries them.
contract EchoReceiver is NslMessageReceiverBase {
    address public immutable admin;
    bool public closed;
    uint256 public received;
    uint256 public lastSrcChain;
    bytes public lastSender;
    uint256 public lastNonce;
    bytes public lastPayload;

    error NotAdmin();

    constructor(address gateway_) NslMessageReceiverBase(gateway_) {
        admin = msg.sender;
    }

    function setClosed(bool closed_) external {
        if (msg.sender != admin) revert NotAdmin();
        closed = closed_;
    }

    function _onMessage(uint256 srcChain, bytes calldata sender, uint256 nonce, bytes calldata payload)
        internal
        override
        returns (bytes memory)
    {
        require(!closed, "echo receiver closed");
        received += 1;
        lastSrcChain = srcChain;
        lastSender = sender;
        lastNonce = nonce;
        lastPayload = payload;
        return abi.encodePacked("echo:", payload);
    }
}
