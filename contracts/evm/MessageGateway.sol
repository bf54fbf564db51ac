// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice What a contract receiving cross-chain messages implements. `srcChain` is the cross-chain id of
/// the source chain, `sender` the 20 bytes of the source account (an EVM address or an N3 script hash as
/// the NeoVM holds it), `nonce` the source gateway's message number. The returned bytes (at most
/// `MAX_RESULT_BYTES` are kept) go back to the sender in the receipt.
interface IMessageReceiver {
    function onMessage(uint256 srcChain, bytes calldata sender, uint256 nonce, bytes calldata payload)
        external
        returns (bytes memory);
}

/// @title Verified cross-chain messages between Neo X (EVM) and Neo N3, relayed by the Neo Service Layer.
/// @notice Outbound: `send` numbers a message (1, 2, 3, ... per gateway), refuses a payload above
/// `maxPayloadBytes`, a gas limit above the route's `maxGasLimit` and a fee below `feeOf`, and emits
/// `MessageSent`. The service's enclave reads that event from its own node of this chain and signs the
/// message for the destination gateway. Inbound: `deliver` accepts a message only with the enclave's
/// secp256k1 signature over the digest this contract rebuilds, from the registered gateway of the source
/// chain, once per (source chain, source gateway, nonce) in any order, and calls the receiver with exactly
/// the message's gas limit. A receiver that reverts leaves the message `Failed`, its revert data stored and
/// emitted; anyone can `retry` it (no new signature: the stored digest binds the facts). Each attempt emits
/// `MessageExecuted`, which the enclave signs as a RECEIPT for the source gateway (`deliverReceipt`), where
/// the sender reads it with `resultOf(nonce)`. Who sends `deliver`, `retry` or `deliverReceipt` does not
/// matter (it pays the gas only).
///
/// Digest (V1, the same bytes on both chains; integers big-endian of the width given, account fields 20
/// bytes):
///
///     keccak256("NSL-XMSG-V1" || u8 kind || u64 srcChain || u64 destChain || srcContract(20) || u64 nonce
///               || sender(20) || receiver(20) || u64 value || keccak256(payload))
///
/// kind 1 (MESSAGE): the message as sent; `value` is its gas limit.
/// kind 2 (RECEIPT): the outcome of one delivery attempt, signed from the destination's `MessageExecuted`:
/// srcChain/srcContract are the executing chain and gateway, destChain the message's source chain, nonce
/// the message's nonce, sender the message's receiver, receiver the message's sender, `value` the attempt
/// number (1 = the delivery) and payload `u8 ok || result`.
///
/// Chain ids: an EVM chain is its `block.chainid` (below 2^63); a Neo N3 network is 2^63 + its network
/// magic, so an N3 magic can never be taken for an EVM chain id.
contract MessageGateway {
    bytes public constant TAG = "NSL-XMSG-V1";
    uint8 public constant KIND_MESSAGE = 1;
    uint8 public constant KIND_RECEIPT = 2;
    uint256 public constant MAX_RESULT_BYTES = 256;
    /// @dev secp256k1 n / 2: a signature with a larger s is the malleated twin of a valid one
    uint256 private constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
    /// @dev gas kept back for the work after the receiver's call (status, reason storage, event)
    uint256 private constant CALL_RESERVE = 300_000;
    uint256 private constant ACCOUNT_BYTES = 20;

    enum Status {
        None,
        Executed,
        Failed
    }

    /// @notice A message as the destination gateway receives it (the source's `MessageSent` facts).
    struct Message {
        uint64 srcChain;
        bytes srcContract;
        uint64 nonce;
        bytes sender;
        address receiver;
        uint64 gasLimit;
        bytes payload;
    }

    /// @notice The outcome of one delivery attempt of a message this gateway sent (the destination's
    /// `MessageExecuted` facts).
    struct Receipt {
        uint64 srcChain;
        bytes srcContract;
        uint64 nonce;
        bytes sender;
        address receiver;
        uint64 attempt;
        bool ok;
        bytes result;
    }

    struct Route {
        bytes gateway; // the remote chain's gateway (20 bytes); empty: no route
        uint128 baseFee;
        uint128 gasPrice;
        uint64 maxGasLimit; // in the destination's gas units (EVM gas; GAS fractions on N3)
        bool sendPaused;
        bool deliverPaused;
    }

    struct Inbound {
        Status status;
        uint64 attempts;
        bytes32 digest;
        bytes reason;
    }

    struct Outbound {
        address sender;
        uint64 destChain;
        bytes20 receiver;
        Status status; // of the latest receipt: None (no receipt yet), Executed or Failed
        uint64 attempt;
        bytes result;
    }

    address public owner;
    address public guard;
    address public signer;
    uint256 public maxPayloadBytes = 4096;
    uint256 public nonce;
    mapping(uint256 => Route) private _routes;
    mapping(bytes32 => Inbound) private _inbound;
    mapping(uint256 => Outbound) private _outbound;

    event MessageSent(
        uint256 indexed nonce,
        address indexed sender,
        uint256 destChain,
        bytes receiver,
        bytes payload,
        uint256 gasLimit,
        uint256 fee
    );
    /// @notice One delivery attempt: `ok` with the receiver's result, or not with its revert data.
    event MessageExecuted(
        uint256 indexed srcChain,
        uint256 indexed nonce,
        bytes20 srcContract,
        bytes20 sender,
        address indexed receiver,
        uint256 attempt,
        bool ok,
        bytes result
    );
    event ReceiptStored(uint256 indexed nonce, uint256 srcChain, uint256 attempt, bool ok, bytes result);
    event RouteSet(uint256 indexed chainId, bytes gateway, uint256 baseFee, uint256 gasPrice, uint256 maxGasLimit);
    event Paused(uint256 indexed chainId, bool sending, bool delivering);
    event SignerChanged(address indexed previous, address indexed current);
    event GuardChanged(address indexed previous, address indexed current);
    event OwnerChanged(address indexed previous, address indexed current);
    event LimitsChanged(uint256 maxPayloadBytes);
    event FeesWithdrawn(address indexed to, uint256 amount);

    error NotOwner();
    error NotGuard();
    error ZeroAddress();
    error UnknownRoute(uint256 chainId);
    error SendingPaused(uint256 destChain);
    error DeliveringPaused(uint256 srcChain);
    error BadReceiver();
    error PayloadTooLarge(uint256 size, uint256 max);
    error GasLimitTooHigh(uint256 gasLimit, uint256 max);
    error FeeTooLow(uint256 paid, uint256 fee);
    error UnknownSourceContract(uint256 srcChain);
    error BadAccount();
    error BadSignature();
    error AlreadyDelivered(uint256 srcChain, uint256 nonce);
    error NotRetryable(uint256 srcChain, uint256 nonce);
    error MessageMismatch();
    error NotEnoughGasForCall(uint256 needed);
    error UnknownMessage(uint256 nonce);
    error StaleReceipt(uint256 nonce, uint256 attempt);
    error ResultTooLarge(uint256 size, uint256 max);
    error BadChainId();
    error TransferFailed();
    /// @notice the reason recorded for a message whose receiver has no code (it stays retryable)
    error ReceiverHasNoCode();

    constructor(address signer_, address guard_) {
        if (signer_ == address(0) || guard_ == address(0)) revert ZeroAddress();
        if (block.chainid >= 2 ** 63) revert BadChainId();
        owner = msg.sender;
        signer = signer_;
        guard = guard_;
        emit OwnerChanged(address(0), msg.sender);
        emit SignerChanged(address(0), signer_);
        emit GuardChanged(address(0), guard_);
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    // ---- outbound ----------------------------------------------------------------------------------

    /// @notice The fee `send` takes for a message to `destChain` with `gasLimit` (wei).
    function feeOf(uint256 destChain, uint256 gasLimit) public view returns (uint256) {
        Route storage route = _routes[destChain];
        if (route.gateway.length == 0) revert UnknownRoute(destChain);
        return uint256(route.baseFee) + gasLimit * uint256(route.gasPrice);
    }

    /// @notice Send `payload` to `receiver` (20 bytes) on `destChain`, whose call gets `gasLimit`. Pays
    /// at least `feeOf(destChain, gasLimit)` (all of `msg.value` is kept). Returns the message's nonce.
    function send(uint256 destChain, bytes calldata receiver, bytes calldata payload, uint256 gasLimit)
        external
        payable
        returns (uint256 sent)
    {
        Route storage route = _routes[destChain];
        if (route.gateway.length == 0) revert UnknownRoute(destChain);
        if (route.sendPaused) revert SendingPaused(destChain);
        if (receiver.length != ACCOUNT_BYTES) revert BadReceiver();
        if (payload.length > maxPayloadBytes) revert PayloadTooLarge(payload.length, maxPayloadBytes);
        if (gasLimit > route.maxGasLimit) revert GasLimitTooHigh(gasLimit, route.maxGasLimit);
        uint256 fee = uint256(route.baseFee) + gasLimit * uint256(route.gasPrice);
        if (msg.value < fee) revert FeeTooLow(msg.value, fee);
        sent = ++nonce;
        Outbound storage out = _outbound[sent];
        out.sender = msg.sender;
        out.destChain = uint64(destChain);
        out.receiver = bytes20(receiver);
        emit MessageSent(sent, msg.sender, destChain, receiver, payload, gasLimit, msg.value);
    }

    /// @notice What this gateway knows of its message `nonce_`: the sender, the destination, and the
    /// latest receipt (status None until one arrived, then Executed or Failed, with its attempt and result
    /// or revert data).
    function resultOf(uint256 nonce_)
        external
        view
        returns (address sender, uint256 destChain, Status status, uint256 attempt, bytes memory result)
    {
        Outbound storage out = _outbound[nonce_];
        return (out.sender, out.destChain, out.status, out.attempt, out.result);
    }

    // ---- inbound -----------------------------------------------------------------------------------

    /// @notice The digest of a message for this chain (what the enclave signs).
    function messageDigest(Message calldata m) public view returns (bytes32) {
        return _digest(
            KIND_MESSAGE,
            m.srcChain,
            bytes20(m.srcContract),
            m.nonce,
            bytes20(m.sender),
            bytes20(m.receiver),
            m.gasLimit,
            keccak256(m.payload)
        );
    }

    /// @notice The digest of a receipt for this chain (what the enclave signs).
    function receiptDigest(Receipt calldata r) public view returns (bytes32) {
        return _digest(
            KIND_RECEIPT,
            r.srcChain,
            bytes20(r.srcContract),
            r.nonce,
            bytes20(r.sender),
            bytes20(r.receiver),
            r.attempt,
            keccak256(abi.encodePacked(r.ok, r.result))
        );
    }

    /// @notice Deliver message `m` with the enclave's signature (65 bytes r || s || v): once per source
    /// chain, source gateway and nonce, in any order. The receiver's revert leaves it `Failed` (retryable).
    function deliver(Message calldata m, bytes calldata signature) external returns (bool ok) {
        _checkSource(m.srcChain, m.srcContract);
        if (m.sender.length != ACCOUNT_BYTES) revert BadAccount();
        bytes32 key = _key(m.srcChain, m.srcContract, m.nonce);
        Inbound storage entry = _inbound[key];
        if (entry.status != Status.None) revert AlreadyDelivered(m.srcChain, m.nonce);
        bytes32 digest = messageDigest(m);
        if (_recover(digest, signature) != signer) revert BadSignature();
        entry.digest = digest;
        return _execute(entry, m);
    }

    /// @notice Run a `Failed` message again (anyone may): `m` must be the delivered message exactly.
    function retry(Message calldata m) external returns (bool ok) {
        _checkSource(m.srcChain, m.srcContract);
        if (m.sender.length != ACCOUNT_BYTES) revert BadAccount();
        Inbound storage entry = _inbound[_key(m.srcChain, m.srcContract, m.nonce)];
        if (entry.status != Status.Failed) revert NotRetryable(m.srcChain, m.nonce);
        if (messageDigest(m) != entry.digest) revert MessageMismatch();
        return _execute(entry, m);
    }

    /// @notice The delivery state of an inbound message: status, attempts so far, and the latest revert
    /// data while it is `Failed`.
    function inboundOf(uint256 srcChain, bytes calldata srcContract, uint256 nonce_)
        external
        view
        returns (Status status, uint256 attempts, bytes memory reason)
    {
        Inbound storage entry = _inbound[keccak256(abi.encode(srcChain, srcContract, nonce_))];
        return (entry.status, entry.attempts, entry.reason);
    }

    /// @notice Store the outcome of a delivery attempt of this gateway's message `r.nonce`, signed by the
    /// enclave. A later attempt replaces an earlier failure; nothing replaces a success.
    function deliverReceipt(Receipt calldata r, bytes calldata signature) external {
        _checkSource(r.srcChain, r.srcContract);
        if (r.sender.length != ACCOUNT_BYTES) revert BadAccount();
        if (r.result.length > MAX_RESULT_BYTES) revert ResultTooLarge(r.result.length, MAX_RESULT_BYTES);
        Outbound storage out = _outbound[r.nonce];
        if (
            out.sender == address(0) || out.sender != r.receiver || out.destChain != r.srcChain
                || out.receiver != bytes20(r.sender)
        ) revert UnknownMessage(r.nonce);
        if (out.status == Status.Executed || r.attempt <= out.attempt) revert StaleReceipt(r.nonce, r.attempt);
        if (_recover(receiptDigest(r), signature) != signer) revert BadSignature();
        out.status = r.ok ? Status.Executed : Status.Failed;
        out.attempt = r.attempt;
        out.result = r.result;
        emit ReceiptStored(r.nonce, r.srcChain, r.attempt, r.ok, r.result);
    }

    // ---- administration ----------------------------------------------------------------------------

    function routeOf(uint256 chainId) external view returns (Route memory) {
        return _routes[chainId];
    }

    /// @notice The remote chain `chainId`'s gateway (20 bytes), the fee of messages to it and their
    /// largest gas limit (in that chain's units).
    function setRoute(
        uint256 chainId,
        bytes calldata gateway,
        uint128 baseFee,
        uint128 gasPrice,
        uint64 maxGasLimit
    ) external onlyOwner {
        if (chainId == 0 || chainId > type(uint64).max || chainId == block.chainid) revert BadChainId();
        if (gateway.length != ACCOUNT_BYTES) revert BadAccount();
        Route storage route = _routes[chainId];
        route.gateway = gateway;
        route.baseFee = baseFee;
        route.gasPrice = gasPrice;
        route.maxGasLimit = maxGasLimit;
        emit RouteSet(chainId, gateway, baseFee, gasPrice, maxGasLimit);
    }

    /// @notice The guard pauses or resumes messages to (`sending`) and from (`delivering`) `chainId`.
    function setPaused(uint256 chainId, bool sending, bool delivering) external {
        if (msg.sender != guard) revert NotGuard();
        Route storage route = _routes[chainId];
        route.sendPaused = sending;
        route.deliverPaused = delivering;
        emit Paused(chainId, sending, delivering);
    }

    function setLimits(uint256 maxPayloadBytes_) external onlyOwner {
        maxPayloadBytes = maxPayloadBytes_;
        emit LimitsChanged(maxPayloadBytes_);
    }

    function setSigner(address signer_) external onlyOwner {
        if (signer_ == address(0)) revert ZeroAddress();
        emit SignerChanged(signer, signer_);
        signer = signer_;
    }

    function setGuard(address guard_) external onlyOwner {
        if (guard_ == address(0)) revert ZeroAddress();
        emit GuardChanged(guard, guard_);
        guard = guard_;
    }

    function transferOwnership(address owner_) external onlyOwner {
        if (owner_ == address(0)) revert ZeroAddress();
        emit OwnerChanged(owner, owner_);
        owner = owner_;
    }

    /// @notice The owner takes collected fees (to pay the relaying).
    function withdrawFees(address payable to, uint256 amount) external onlyOwner {
        if (to == address(0)) revert ZeroAddress();
        (bool sent,) = to.call{value: amount}("");
        if (!sent) revert TransferFailed();
        emit FeesWithdrawn(to, amount);
    }

    // ---- internals ---------------------------------------------------------------------------------

    function _digest(
        uint8 kind,
        uint64 srcChain,
        bytes20 srcContract,
        uint64 nonce_,
        bytes20 sender,
        bytes20 receiver,
        uint64 value,
        bytes32 payloadHash
    ) private view returns (bytes32) {
        bytes memory head = abi.encodePacked(TAG, kind, srcChain, uint64(block.chainid), srcContract);
        return keccak256(abi.encodePacked(head, nonce_, sender, receiver, value, payloadHash));
    }

    function _key(uint64 srcChain, bytes calldata srcContract, uint64 nonce_) private pure returns (bytes32) {
        return keccak256(abi.encode(uint256(srcChain), srcContract, uint256(nonce_)));
    }

    /// @dev The source must be the registered gateway of a route whose deliveries are not paused.
    function _checkSource(uint64 srcChain, bytes calldata srcContract) private view {
        Route storage route = _routes[srcChain];
        if (route.gateway.length == 0 || keccak256(route.gateway) != keccak256(srcContract)) {
            revert UnknownSourceContract(srcChain);
        }
        if (route.deliverPaused) revert DeliveringPaused(srcChain);
    }

    /// @dev One attempt: the receiver gets exactly `m.gasLimit` gas or the whole attempt reverts (a sender
    /// cannot starve it); its revert leaves the message Failed with the revert data (at most
    /// MAX_RESULT_BYTES), its success Executed. The status is set before the call, so the receiver cannot
    /// deliver or retry the same message from inside it.
    function _execute(Inbound storage entry, Message calldata m) private returns (bool ok) {
        entry.status = Status.Executed;
        uint64 attempt = ++entry.attempts;
        bytes memory result;
        (ok, result) = _call(m);
        if (ok) {
            if (entry.reason.length != 0) delete entry.reason;
        } else {
            entry.status = Status.Failed;
            entry.reason = result;
        }
        emit MessageExecuted(
            m.srcChain, m.nonce, bytes20(m.srcContract), bytes20(m.sender), m.receiver, attempt, ok, result
        );
    }

    /// @dev The receiver's call with exactly `m.gasLimit` gas: its result, or its revert data (both cut to
    /// MAX_RESULT_BYTES).
    function _call(Message calldata m) private returns (bool ok, bytes memory result) {
        uint256 limit = m.gasLimit;
        uint256 needed = limit + limit / 63 + CALL_RESERVE;
        if (gasleft() < needed) revert NotEnoughGasForCall(needed);
        address receiver = m.receiver;
        // a receiver without code (not deployed yet, or an account) would "succeed" and lose the message
        if (receiver.code.length == 0) return (false, abi.encodeWithSelector(ReceiverHasNoCode.selector));
        bytes memory data = abi.encodeCall(IMessageReceiver.onMessage, (m.srcChain, m.sender, m.nonce, m.payload));
        bytes memory output;
        assembly {
            ok := call(limit, receiver, 0, add(data, 32), mload(data), 0, 0)
            // copy a bounded prefix of the return data: a receiver cannot make this copy costly
            let size := returndatasize()
            if gt(size, add(MAX_RESULT_BYTES, 64)) { size := add(MAX_RESULT_BYTES, 64) }
            output := mload(0x40)
            mstore(output, size)
            returndatacopy(add(output, 32), 0, size)
            mstore(0x40, add(add(output, 32), and(add(size, 31), not(31))))
        }
        result = ok ? _returnedBytes(output) : _cut(output, MAX_RESULT_BYTES);
    }

    /// @dev The `bytes` an `onMessage` returned (ABI-encoded), cut to MAX_RESULT_BYTES; empty when the
    /// return data is not an ABI `bytes`.
    function _returnedBytes(bytes memory output) private pure returns (bytes memory) {
        if (output.length < 64) return "";
        uint256 offset;
        uint256 length;
        assembly {
            offset := mload(add(output, 32))
            length := mload(add(output, 64))
        }
        if (offset != 32) return "";
        uint256 available = output.length - 64;
        if (length > available) length = available;
        bytes memory result = new bytes(length);
        for (uint256 i = 0; i < length; ++i) {
            result[i] = output[64 + i];
        }
        return result;
    }

    function _cut(bytes memory data, uint256 max) private pure returns (bytes memory) {
        if (data.length > max) {
            assembly {
                mstore(data, max)
            }
        }
        return data;
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
