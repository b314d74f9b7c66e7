<?php
// The envelopes of the `vendor_stack` bench, made once by PHP's SoapClient in WSDL mode against
// the engine's own WSDL (`?wsdl`), so that the engine and the vendor's stack get the same bytes.
//
//   php envelopes.php WSDL_URL KEY JOB_ID OUT_DIR
//
// For each operation, OUT_DIR/<op>.xml is the request body SoapClient sent
// (`__getLastRequest`), OUT_DIR/<op>.headers its SOAPAction, Content-Type and User-Agent
// lines, OUT_DIR/<op>.result what the engine answered (the decoded `return`). Prints one JSON
// line: the answers' types and lengths.

[$_, $wsdl, $key, $job, $out] = $argv + [null, null, null, null, null];
if ($out === null) {
    fwrite(STDERR, "usage: php envelopes.php WSDL_URL KEY JOB_ID OUT_DIR\n");
    exit(2);
}
$client = new SoapClient($wsdl, [
    'trace' => true,
    'exceptions' => true,
    'cache_wsdl' => WSDL_CACHE_NONE,
]);
$calls = [
    'originateCallStatus' => [$key, $job],
    'statusQueues' => [$key],
];
$summary = [];
foreach ($calls as $op => $args) {
    $result = $client->__soapCall($op, $args);
    file_put_contents("$out/$op.xml", $client->__getLastRequest());
    $keep = [];
    foreach (preg_split('/\r\n/', $client->__getLastRequestHeaders()) as $line) {
        if (preg_match('/^(SOAPAction|Content-Type|User-Agent):/i', $line)) {
            $keep[] = $line;
        }
    }
    file_put_contents("$out/$op.headers", implode("\n", $keep) . "\n");
    file_put_contents("$out/$op.result", (string) $result);
    $summary[$op] = ['type' => gettype($result), 'length' => strlen((string) $result)];
}
echo json_encode($summary), "\n";
