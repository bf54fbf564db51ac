// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice What a consumer of the randomness service implements.
interface IRandomnessConsumer {
    function onRandomness(uint256 requestId, bytes32 randomness) external;
}

/// @title Verifiable randomness for Solidity consumers (Neo X), answered by the Neo Service Layer.
/// @notice A consumer calls `request(seed)`; the service's enclave derives the randomness for the request
/// and signs, with its secp256k1 key, the digest this contract rebuilds from its own facts:
///
///     keccak256(abi.encodePacked("NSL-RANDOMNESS-EVM-V1", block.chainid, address(this), requestId,
///                                consumer, seed, randomness))
///
/// `fulfill` accepts an answer only if `ecrecover` of that digest is `signer`, and only once per request.
/// The consumer's callback gets `callbackGasLimit` gas; if it reverts, the request is still fulfilled
/// and `RandomnessFulfilled` records the failure and its revert data (at most 256 bytes).
/// Who sends `fulfill` does not matter (it only pays the gas): the signature is what this contract trusts.
contract RandomnessService {
    bytes public constant TAG = "NSL-RANDOMNESS-EVM-V1";
    /// @dev secp256k1 n / 2: a signature with a larger s is the malleated twin of a valid one
    uint256 private constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
    uint256 private constant MAX_REASON_BYTES = 256;
    /// @dev gas kept back for the work after the callback (the event, returndata copy)
    uint256 private constant CALLBACK_RESERVE = 30_000;

    struct Request {
        address consumer;
        bool fulfilled;
        bytes32 seed;
    }

    address public owner;
    address public signer;
    uint256 public callbackGasLimit = 200_000;
    uint256 public requestCount;
    mapping(uint256 => Request) private _requests;

    event RandomnessRequested(uint256 indexed requestId, address indexed consumer, bytes32 seed);
    event RandomnessFulfilled(
        uint256 indexed requestId, address indexed consumer, bytes32 randomness, bool callbackOk, bytes reason
    );
    event SignerChanged(address indexed previous, address indexed current);
    event OwnerChanged(address indexed previous, address indexed current);
    event CallbackGasLimitChanged(uint256 previous, uint256 current);

    error NotOwner();
    error ZeroAddress();
    error UnknownRequest(uint256 requestId);
    error AlreadyFulfilled(uint256 requestId);
    error BadSignature();
    error NotEnoughGasForCallback(uint256 needed);

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

    /// @notice Ask for randomness; the caller is the consumer called back. Returns the request id.
    function request(bytes32 seed) external returns (uint256 requestId) {
        requestId = ++requestCount;
        _requests[requestId] = Request({consumer: msg.sender, fulfilled: false, seed: seed});
        emit RandomnessRequested(requestId, msg.sender, seed);
    }

    function requestOf(uint256 requestId) external view returns (address consumer, bytes32 seed, bool fulfilled) {
        Request storage r = _requests[requestId];
        return (r.consumer, r.seed, r.fulfilled);
    }

    /// @notice The digest the signer signs for this answer (reverts for an unknown request).
    function digest(uint256 requestId, bytes32 randomness) public view returns (bytes32) {
        Request storage r = _requests[requestId];
        if (r.consumer == address(0)) revert UnknownRequest(requestId);
        return keccak256(abi.encodePacked(TAG, block.chainid, address(this), requestId, r.consumer, r.seed, randomness));
    }

    /// @notice Deliver the answer to request `requestId`: `signature` is 65 bytes r || s || v (v 27 or 28).
    function fulfill(uint256 requestId, bytes32 randomness, bytes calldata signature) external {
        Request storage r = _requests[requestId];
        if (r.consumer == address(0)) revert UnknownRequest(requestId);
        if (r.fulfilled) revert AlreadyFulfilled(requestId);
        if (_recover(digest(requestId, randomness), signature) != signer) revert BadSignature();
        r.fulfilled = true;

        // The callback gets its full gas limit or the fulfilment reverts: a sender cannot starve it.
        uint256 limit = callbackGasLimit;
        uint256 needed = limit + limit / 63 + CALLBACK_RESERVE;
        if (gasleft() < needed) revert NotEnoughGasForCallback(needed);
        address consumer = r.consumer;
        bytes memory data = abi.encodeCall(IRandomnessConsumer.onRandomness, (requestId, randomness));
        bool ok;
        bytes memory reason;
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
        emit RandomnessFulfilled(requestId, consumer, randomness, ok, reason);
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

    function transferOwnership(address owner_) external onlyOwner {
        if (owner_ == address(0)) revert ZeroAddress();
        emit OwnerChanged(owner, owner_);
        owner = owner_;
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
