// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IMessageReceiver} from "../MessageGateway.sol";

/// @notice An example receiver that refuses every message with a reason: the gateway records the message
/// as `Failed` with this contract's revert data, and the message stays retryable.
contract RevertingReceiver is IMessageReceiver {
    error Refused(uint256 nonce, bytes payload);

    function onMessage(uint256, bytes calldata, uint256 nonce, bytes calldata payload)
        external
        pure
        returns (bytes memory)
    {
        revert Refused(nonce, payload);
    }
}
