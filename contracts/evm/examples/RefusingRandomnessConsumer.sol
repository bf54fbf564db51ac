// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {RandomnessService} from "../RandomnessService.sol";

/// @notice A consumer whose callback always reverts: its request is fulfilled all the same, and the
/// service's `RandomnessFulfilled` event carries this revert reason.
contract RefusingRandomnessConsumer {
    RandomnessService public immutable service;

    constructor(RandomnessService service_) {
        service = service_;
    }

    function ask(bytes32 seed) external returns (uint256) {
        return service.request(seed);
    }

    function onRandomness(uint256, bytes32) external pure {
        revert("consumer refuses the randomness");
    }
}
