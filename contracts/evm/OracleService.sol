// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice What a consumer of the oracle service implements.
interface IOracleConsumer {
    /// @param code 0 (success) or the refusal's result code (the same integers as on Neo N3)
    /// @param result the filtered answer; empty unless `code` is 0
    function onOracleAnswer(uint256 requestId, uint8 code, bytes calldata result) external;
}

/// @title Web data for Solidity consumers (Neo X), fetched and signed by the Neo Service Layer's enclave.
/// @notice A consumer calls `request(url, filter)` (paying `fee`). The service's enclave fetches the URL
/// behind its guard, applies the filter and signs, with its secp256k1 key, the digest this contract
/// rebuilds from its own facts and the answer:
///
///     keccak256(abi.encodePacked("NSL-ORACLE-EVM-V1", block.chainid, address(this), requestId, consumer,
///                                keccak256(url), keccak256(filter), uint256(code), keccak256(result),
///                                uint256(timestamp)))
///
/// (`timestamp`: milliseconds since the Unix epoch at which the enclave completed the fetch.) `fulfill`
/// accepts an answer only if `ecrecover` of that digest is `signer`, and only once per request. The
/// consumer's `onOracleAnswer` gets `callbackGasLimit` gas; if it reverts, the request is still fulfilled
/// and `OracleFulfilled` records the failure and its revert data (at most 256 bytes). Who sends `fulfill`
/// does not matter (it only pays the gas): the signature is what this contract trusts. A request still
/// pending `refundBlocks` blocks after it was made may be refunded by anyone: its fee goes back to the
/// consumer and it can no longer be fulfilled. The limits are those of the Neo N3 oracle contract.
contract OracleService {
    bytes public constant TAG = "NSL-ORACLE-EVM-V1";
    uint256 public constant MAX_URL_BYTES = 512;
    uint256 public constant MAX_FILTER_BYTES = 256;
    uint256 public constant MAX_RESULT_BYTES = 65_536;
    uint8 public constant CODE_SUCCESS = 0;
    /// @dev secp256k1 n / 2: a signature with a larger s is the malleated twin of a valid one
    uint256 private constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
    uint256 private constant MAX_REASON_BYTES = 256;
    /// @dev gas kept back for the work after the callback (the event, returndata copy)
    uint256 private constant CALLBACK_RESERVE = 30_000;

    enum State {
        None,
        Pending,
        Fulfilled,
        Refunded
    }

    struct Request {
        address consumer;
        State state;
        uint8 code;
        uint64 timestamp;
        uint64 blockNumber;
        uint128 paid;
        bytes32 urlHash;
        bytes32 filterHash;
    }

    address public owner;
    address public signer;
    uint256 public callbackGasLimit = 200_000;
    /// @notice wei a request pays (exactly); 0 by default
    uint256 public fee;
    /// @notice blocks after which an unanswered request may be refunded
    uint256 public refundBlocks = 7_200;
    /// @notice fees of fulfilled requests, not yet withdrawn by the owner
    uint256 public collectedFees;
    uint256 public requestCount;
    mapping(uint256 => Request) private _requests;

    event OracleRequested(uint256 indexed requestId, address indexed consumer, string url, string filter);
    event OracleFulfilled(
        uint256 indexed requestId,
        address indexed consumer,
        uint8 code,
        uint64 timestamp,
        bool callbackOk,
        bytes reason
    );
    event OracleRefunded(uint256 indexed requestId, address indexed consumer, uint256 amount);
    event SignerChanged(address indexed previous, address indexed current);
    event OwnerChanged(address indexed previous, address indexed current);
    event CallbackGasLimitChanged(uint256 previous, uint256 current);
    event FeeChanged(uint256 previous, uint256 current);
    event RefundBlocksChanged(uint256 previous, uint256 current);

    error NotOwner();
    error ZeroAddress();
    error UrlLength();
    error FilterTooLong();
    error WrongFee(uint256 expected);
    error UnknownRequest(uint256 requestId);
    error AlreadyFulfilled(uint256 requestId);
    error NotPending(uint256 requestId);
    error TooEarly(uint256 refundableAt);
    error ResultTooLarge();
    error ResultWithoutSuccess();
    error BadSignature();
    error NotEnoughGasForCallback(uint256 needed);
    error TransferFailed();
    error FeeTooHigh();

    constructor(address signer_) {
        if (signer_ == address(0)) revert ZeroAddress();
        owner = msg.sender;
        signer = signer_;
        emit OwnerChanged(address(0), msg.sender);
        emit SignerChanged(address(0), signer_);
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    /// @notice Ask for web data; the caller is the consumer called back. Returns the request id.
    /// @param url an `https://` URL fetched with GET, or `nsl://template/<id>` (a request template the
    /// service's tenant registered off chain); 1 to 512 bytes
    /// @param filter a JSONPath filter applied to a JSON body ("" for the whole body); at most 256 bytes
    function request(string calldata url, string calldata filter) external payable returns (uint256 requestId) {
        uint256 urlBytes = bytes(url).length;
        if (urlBytes == 0 || urlBytes > MAX_URL_BYTES) revert UrlLength();
        if (bytes(filter).length > MAX_FILTER_BYTES) revert FilterTooLong();
        if (msg.value != fee) revert WrongFee(fee);
        requestId = ++requestCount;
        _requests[requestId] = Request({
            consumer: msg.sender,
            state: State.Pending,
            code: 0,
            timestamp: 0,
            blockNumber: uint64(block.number),
            paid: uint128(msg.value),
            urlHash: keccak256(bytes(url)),
            filterHash: keccak256(bytes(filter))
        });
        emit OracleRequested(requestId, msg.sender, url, filter);
    }

    /// @notice A request's consumer, state (0 none, 1 pending, 2 fulfilled, 3 refunded), and once fulfilled
    /// its result code and the enclave's timestamp (milliseconds).
    function requestOf(uint256 requestId)
        external
        view
        returns (address consumer, State state, uint8 code, uint64 timestamp)
    {
        Request storage r = _requests[requestId];
        return (r.consumer, r.state, r.code, r.timestamp);
    }

    /// @notice The digest the signer signs for this answer (reverts for an unknown request).
    function digest(uint256 requestId, uint8 code, bytes32 resultHash, uint64 timestamp)
        public
        view
        returns (bytes32)
    {
        Request storage r = _requests[requestId];
        if (r.consumer == address(0)) revert UnknownRequest(requestId);
        // two packed halves, concatenated: the same bytes as one encodePacked of the ten values
        bytes memory facts = abi.encodePacked(TAG, block.chainid, address(this), requestId, r.consumer);
        bytes memory answer =
            abi.encodePacked(r.urlHash, r.filterHash, uint256(code), resultHash, uint256(timestamp));
        return keccak256(bytes.concat(facts, answer));
    }

    /// @notice Deliver the answer to request `requestId`: `signature` is 65 bytes r || s || v (v 27 or 28).
    function fulfill(
        uint256 requestId,
        uint8 code,
        bytes calldata result,
        uint64 timestamp,
        bytes calldata signature
    ) external {
        address consumer = _accept(requestId, code, result, timestamp, signature);
        bytes memory data = abi.encodeCall(IOracleConsumer.onOracleAnswer, (requestId, code, result));
        (bool ok, bytes memory reason) = _callBack(consumer, data);
        emit OracleFulfilled(requestId, consumer, code, timestamp, ok, reason);
    }

    /// @dev Check the answer against the request's facts and the signer, and record it; the consumer.
    function _accept(
        uint256 requestId,
        uint8 code,
        bytes calldata result,
        uint64 timestamp,
        bytes calldata signature
    ) private returns (address) {
        Request storage r = _requests[requestId];
        if (r.state == State.None) revert UnknownRequest(requestId);
        if (r.state == State.Fulfilled) revert AlreadyFulfilled(requestId);
        if (r.state != State.Pending) revert NotPending(requestId);
        if (result.length > MAX_RESULT_BYTES) revert ResultTooLarge();
        if (code != CODE_SUCCESS && result.length != 0) revert ResultWithoutSuccess();
        if (_recover(digest(requestId, code, keccak256(result), timestamp), signature) != signer) {
            revert BadSignature();
        }
        r.state = State.Fulfilled;
        r.code = code;
        r.timestamp = timestamp;
        collectedFees += r.paid;
        return r.consumer;
    }

    /// @dev Call the consumer with `callbackGasLimit` gas; whether it returned, and its revert data (at
    /// most MAX_REASON_BYTES; empty when it returned).
    function _callBack(address consumer, bytes memory data) private returns (bool ok, bytes memory reason) {
        // The callback gets its full gas limit or the fulfilment reverts: a sender cannot starve it.
        uint256 limit = callbackGasLimit;
        uint256 needed = limit + limit / 63 + CALLBACK_RESERVE;
        if (gasleft() < needed) revert NotEnoughGasForCallback(needed);
        assembly {
            ok := call(limit, consumer, 0, add(data, 32), mload(data), 0, 0)
            // copy at most MAX_REASON_BYTES of the revert data: a consumer cannot make this copy costly
            let size := returndatasize()
            if gt(size, MAX_REASON_BYTES) { size := MAX_REASON_BYTES }
            reason := mload(0x40)
            mstore(reason, size)
            returndatacopy(add(reason, 32), 0, size)
            mstore(0x40, add(add(reason, 32), and(add(size, 31), not(31))))
        }
        if (ok) reason = "";
    }

    /// @notice Anyone: a request pending for more than `refundBlocks` blocks gets its fee back (sent to its
    /// consumer, which must accept ether if it paid any) and can no longer be fulfilled.
    function refund(uint256 requestId) external {
        Request storage r = _requests[requestId];
        if (r.state != State.Pending) revert NotPending(requestId);
        uint256 refundableAt = uint256(r.blockNumber) + refundBlocks + 1;
        if (block.number < refundableAt) revert TooEarly(refundableAt);
        r.state = State.Refunded; // before the transfer: a re-entrant refund or fulfill is refused
        uint256 amount = r.paid;
        emit OracleRefunded(requestId, r.consumer, amount);
        if (amount > 0) _send(r.consumer, amount);
    }

    function setSigner(address signer_) external onlyOwner {
        if (signer_ == address(0)) revert ZeroAddress();
        emit SignerChanged(signer, signer_);
        signer = signer_;
    }

    function setCallbackGasLimit(uint256 limit) external onlyOwner {
        emit CallbackGasLimitChanged(callbackGasLimit, limit);
        callbackGasLimit = limit;
    }

    /// @notice The fee of later requests (requests already made keep what they paid).
    function setFee(uint256 fee_) external onlyOwner {
        if (fee_ > type(uint128).max) revert FeeTooHigh(); // a request stores what it paid in 128 bits
        emit FeeChanged(fee, fee_);
        fee = fee_;
    }

    function setRefundBlocks(uint256 blocks) external onlyOwner {
        emit RefundBlocksChanged(refundBlocks, blocks);
        refundBlocks = blocks;
    }

    /// @notice Send the fees of fulfilled requests to `to`.
    function withdrawFees(address to) external onlyOwner {
        if (to == address(0)) revert ZeroAddress();
        uint256 amount = collectedFees;
        collectedFees = 0;
        _send(to, amount);
    }

    function transferOwnership(address owner_) external onlyOwner {
        if (owner_ == address(0)) revert ZeroAddress();
        emit OwnerChanged(owner, owner_);
        owner = owner_;
    }

    function _send(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    function _recover(bytes32 hash, bytes calldata signature) private pure returns (address) {
        if (signature.length != 65) return address(0);
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (uint256(s) > HALF_ORDER || (v != 27 && v != 28)) return address(0);
        return ecrecover(hash, v, r, s);
    }
}
