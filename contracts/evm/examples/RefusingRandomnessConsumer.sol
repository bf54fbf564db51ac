// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {RandomnessService} from "../RandomnessService.sol";
import {NslRandomnessConsumerBase} from "../lib/NslRandomnessConsumerBase.sol";

/// @notice A consumer whose callback always reverts: its request is fulfilled all the same, and the
/// service's `RandomnessFulfilled` event carries this revert reason.
contract RefusingRandomnessConsumer is NslRandomnessConsumerBase {
    constructor(RandomnessService service_) NslRandomnessConsumerBase(service_) {}

    function ask(bytes32 seed) external returns (uint256) {
        return _requestRandomness(seed);
    }

    function _onRandomness(uint256, bytes32) internal pure override {
        revert("consumer refuses the randomness");
    }
}
