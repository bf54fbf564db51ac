// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IMessageReceiver} from "../MessageGateway.sol";

/// @title Base of a Neo X receiver of the Neo Service Layer's cross-chain messages.
/// @notice Inherit it and implement `_onMessage`: the gateway's `onMessage` call reaches it only when the
/// caller is the configured gateway (`onlyGateway`), anyone else is refused with `NotTheGateway()`. What
/// `_onMessage` returns is the receipt's result; a revert (or running out of the message's gas) is
/// caught by the gateway, which records the message as `Failed` with the revert data and keeps it
/// retryable, exactly as for a receiver without this base.
abstract contract NslMessageReceiverBase is IMessageReceiver {
    address public immutable gateway;

    error NotTheGateway();

    constructor(address gateway_) {
        gateway = gateway_;
    }

    /// @dev Refuses every caller but the configured gateway.
    modifier onlyGateway() {
        if (msg.sender != gateway) revert NotTheGateway();
        _;
    }

    /// @notice The gateway's call: checked, then handed to `_onMessage`.
    function onMessage(uint256 srcChain, bytes calldata sender, uint256 nonce, bytes calldata payload)
        external
        onlyGateway
        returns (bytes memory)
    {
        return _onMessage(srcChain, sender, nonce, payload);
    }

    /// @dev The message `nonce` from `sender` (its 20 bytes) on `srcChain`, called only by the gateway.
    function _onMessage(uint256 srcChain, bytes calldata sender, uint256 nonce, bytes calldata payload)
        internal
        virtual
        returns (bytes memory);
}
