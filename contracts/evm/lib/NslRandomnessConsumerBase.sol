// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IRandomnessConsumer, RandomnessService} from "../RandomnessService.sol";

/// @title Base of a Neo X consumer of the Neo Service Layer's randomness service.
/// @notice Inherit it, call `_requestRandomness(seed)` and implement `_onRandomness`: the service's
/// `onRandomness` callback reaches it only when the caller is the configured service (`onlyService`),
/// anyone else is refused with `NotTheService()`.
abstract contract NslRandomnessConsumerBase is IRandomnessConsumer {
    RandomnessService public immutable service;

    error NotTheService();

    constructor(RandomnessService service_) {
        service = service_;
    }

    /// @dev Refuses every caller but the configured service.
    modifier onlyService() {
        if (msg.sender != address(service)) revert NotTheService();
        _;
    }

    /// @notice The service's callback: checked, then handed to `_onRandomness`.
    function onRandomness(uint256 requestId, bytes32 randomness) external onlyService {
        _onRandomness(requestId, randomness);
    }

    /// @dev Ask the service for randomness (the request is free; `seed` is mixed into the answer).
    function _requestRandomness(bytes32 seed) internal returns (uint256 requestId) {
        requestId = service.request(seed);
    }

    /// @dev The answer to `requestId`, called only by the service.
    function _onRandomness(uint256 requestId, bytes32 randomness) internal virtual;
}
