// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {OracleService} from "../OracleService.sol";
import {NslOracleConsumerBase} from "../lib/NslOracleConsumerBase.sol";

/// @notice A consumer whose callback always reverts: its request is fulfilled all the same, and the
/// service's `OracleFulfilled` event carries this revert reason.
contract RefusingOracleConsumer is NslOracleConsumerBase {
    constructor(OracleService service_) NslOracleConsumerBase(service_) {}

    function ask(string calldata url, string calldata filter) external returns (uint256) {
        return _requestOracle(url, filter, 0);
    }

    function _onOracleAnswer(uint256, uint8, bytes calldata) internal pure override {
        revert("consumer refuses the answer");
    }
}
