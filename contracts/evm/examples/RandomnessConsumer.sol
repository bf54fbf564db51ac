// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {RandomnessService} from "../RandomnessService.sol";
import {NslRandomnessConsumerBase} from "../lib/NslRandomnessConsumerBase.sol";

/// @notice An example consumer: asks the service for randomness and keeps what it is called back with.
contract RandomnessConsumer is NslRandomnessConsumerBase {
    mapping(uint256 => bytes32) public randomnessOf;
    mapping(uint256 => bool) public answered;
    uint256 public lastRequestId;

    constructor(RandomnessService service_) NslRandomnessConsumerBase(service_) {}

    function ask(bytes32 seed) external returns (uint256 requestId) {
        requestId = _requestRandomness(seed);
        lastRequestId = requestId;
    }

    function _onRandomness(uint256 requestId, bytes32 randomness) internal override {
        randomnessOf[requestId] = randomness;
        answered[requestId] = true;
    }
}
