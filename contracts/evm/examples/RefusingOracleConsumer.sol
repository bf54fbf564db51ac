// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {OracleService} from "../OracleService.sol";

/// @notice A consumer whose callback always reverts: its request is fulfilled all the same, and the
/// service's `OracleFulfilled` event carries this revert reason.
contract RefusingOracleConsumer {
    OracleService public immutable service;

    constructor(OracleService service_) {
        service = service_;
    }

    function ask(string calldata url, string calldata filter) external returns (uint256) {
        return service.request(url, filter);
    }

    function onOracleAnswer(uint256, uint8, bytes calldata) external pure {
        revert("consumer refuses the answer");
    }
}
