// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {OracleService} from "../OracleService.sol";

/// @notice An example consumer: asks the oracle for web data and keeps what it is called back with.
contract OracleConsumer {
    OracleService public immutable service;
    mapping(uint256 => bytes) public resultOf;
    mapping(uint256 => uint8) public codeOf;
    mapping(uint256 => bool) public answered;
    uint256 public lastRequestId;

    error NotTheService();

    constructor(OracleService service_) {
        service = service_;
    }

    /// @notice Ask for `url` filtered by `filter`; send the service's `fee()` along.
    function ask(string calldata url, string calldata filter) external payable returns (uint256 requestId) {
        requestId = service.request{value: msg.value}(url, filter);
        lastRequestId = requestId;
    }

    function onOracleAnswer(uint256 requestId, uint8 code, bytes calldata result) external {
        if (msg.sender != address(service)) revert NotTheService();
        resultOf[requestId] = result;
        codeOf[requestId] = code;
        answered[requestId] = true;
    }

    /// @notice Accepts the refund of a request the service did not answer in time.
    receive() external payable {}
}
