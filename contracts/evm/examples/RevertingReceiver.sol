// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {NslMessageReceiverBase} from "../lib/NslMessageReceiverBase.sol";

/// @notice An example receiver that refuses every message with a reason: the gateway records the message
/// as `Failed` with this contract's revert data, and the message stays retryable. Like every receiver it
/// checks its caller first (`NslMessageReceiverBase`): anyone but the gateway gets `NotTheGateway()`.
contract RevertingReceiver is NslMessageReceiverBase {
    error Refused(uint256 nonce, bytes payload);

    constructor(address gateway_) NslMessageReceiverBase(gateway_) {}

    function _onMessage(uint256, bytes calldata, uint256 nonce, bytes calldata payload)
        internal
        pure
        override
        returns (bytes memory)
    {
        revert Refused(nonce, payload);
    }
}
