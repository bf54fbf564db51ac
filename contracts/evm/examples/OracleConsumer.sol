// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {OracleService} from "../OracleService.sol";
import {NslOracleConsumerBase} from "../lib/NslOracleConsumerBase.sol";

/// @notice An example consumer: asks the oracle for web data and keeps what it is called back with.
contract OracleConsumer is NslOracleConsumerBase {
    mapping(uint256 => bytes) public resultOf;
    mapping(uint256 => uint8) public codeOf;
    mapping(uint256 => bool) public answered;
    uint256 public lastRequestId;

    constructor(OracleService service_) NslOracleConsumerBase(service_) {}

    /// @notice Ask for `url` filtered by `filter`; send the service's `fee()` along.
    function ask(string calldata url, string calldata filter) external payable returns (uint256 requestId) {
        requestId = _requestOracle(url, filter, msg.value);
        lastRequestId = requestId;
    }

    /// @notice Ask for `url` filtered by `filter`, paying the service's `fee()` from what this contract
    /// holds (send it ether first: `receive()`).
    function askAtFee(string calldata url, string calldata filter) external returns (uint256 requestId) {
        requestId = _requestOracleAtFee(url, filter);
        lastRequestId = requestId;
    }

    function _onOracleAnswer(uint256 requestId, uint8 code, bytes calldata result) internal override {
        resultOf[requestId] = result;
        codeOf[requestId] = code;
        answered[requestId] = true;
    }

    /// @notice Accepts what `askAtFee` pays with, and the refund of a request the service did not answer in
    /// time.
    receive() external payable {}
}
