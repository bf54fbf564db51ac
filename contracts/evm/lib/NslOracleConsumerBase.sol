// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IOracleConsumer, OracleService} from "../OracleService.sol";

/// @title Base of a Neo X consumer of the Neo Service Layer's oracle service.
/// @notice Inherit it, call `_requestOracle(url, filter, payment)` (`payment` must be the service's
/// `fee()`) and implement `_onOracleAnswer`: the service's `onOracleAnswer` callback reaches it only when
/// the caller is the configured service (`onlyService`), anyone else is refused with `NotTheService()`.
/// A request the service did not answer in time is refunded to the consumer: add `receive()` to accept it.
/// `_requestOracleAtFee(url, filter)` pays `fee()` from the contract's own balance instead (refused with
/// `BalanceBelowFee(fee, balance)` when it holds less).
abstract contract NslOracleConsumerBase is IOracleConsumer {
    OracleService public immutable service;

    error NotTheService();
    error BalanceBelowFee(uint256 fee, uint256 balance);

    constructor(OracleService service_) {
        service = service_;
    }

    /// @dev Refuses every caller but the configured service.
    modifier onlyService() {
        if (msg.sender != address(service)) revert NotTheService();
        _;
    }

    /// @notice The service's callback: checked, then handed to `_onOracleAnswer`.
    function onOracleAnswer(uint256 requestId, uint8 code, bytes calldata result) external onlyService {
        _onOracleAnswer(requestId, code, result);
    }

    /// @dev Ask for `url` filtered by `filter` ("" for the whole body), sending `payment` wei with it.
    function _requestOracle(string memory url, string memory filter, uint256 payment)
        internal
        returns (uint256 requestId)
    {
        requestId = service.request{value: payment}(url, filter);
    }

    /// @dev `_requestOracle` paying the service's current `fee()` from this contract's balance (which
    /// includes the value sent with the current call); `BalanceBelowFee` when it holds less.
    function _requestOracleAtFee(string memory url, string memory filter) internal returns (uint256) {
        uint256 fee = service.fee();
        if (address(this).balance < fee) revert BalanceBelowFee(fee, address(this).balance);
        return _requestOracle(url, filter, fee);
    }

    /// @dev The answer to `requestId` (`code` 0 = success), called only by the service.
    function _onOracleAnswer(uint256 requestId, uint8 code, bytes calldata result) internal virtual;
}
