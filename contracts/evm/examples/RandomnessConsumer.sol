// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {RandomnessService} from "../RandomnessService.sol";

/// @notice An example consumer: asks the service for randomness and keeps what it is called back with.
contract RandomnessConsumer {
    RandomnessService public immutable service;
    mapping(uint256 => bytes32) public randomnessOf;
    mapping(uint256 => bool) public answered;
    uint256 public lastRequestId;

    error NotTheService();

    constructor(RandomnessService service_) {
        service = service_;
    }

    function ask(bytes32 seed) external returns (uint256 requestId) {
        requestId = service.request(seed);
        lastRequestId = requestId;
    }

    function onRandomness(uint256 requestId, bytes32 randomness) external {
        if (msg.sender != address(service)) revert NotTheService();
        randomnessOf[requestId] = randomness;
        answered[requestId] = true;
    }
}
