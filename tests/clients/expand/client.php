<?php
// eXpand webservice client over PHP's SoapClient, built from the served WSDL.
// Usage: php client.php WSDL_URL
// Reads one JSON request per line on stdin: {"op": "originateCall", "args": [...]} (the
// arguments in the WSDL's order; an optional "kwargs" object is passed as PHP 8 named arguments,
// as a vendor example's `info="..."` is written) and writes one JSON line per request on stdout:
// {"ok": true, "value": <the return value as PHP got it>, "type": "<PHP type>"} or
// {"ok": false, "fault": "<faultcode>", "error": "<faultstring>"}.
// With "nowsdl": true the call goes through a SoapClient in non-WSDL mode (the WSDL's endpoint,
// its namespace), which sends any operation name to the server instead of refusing it locally.
ini_set('default_socket_timeout', 30);
$wsdl = $argv[1];
$client = new SoapClient($wsdl, ['cache_wsdl' => WSDL_CACHE_NONE, 'exceptions' => true, 'trace' => 0]);
$functions = $client->__getFunctions();
$bare = new SoapClient(null, [
    'location' => preg_replace('/\?wsdl$/i', '', $wsdl),
    'uri' => 'urn:apiws',
    'exceptions' => true,
]);
fwrite(STDOUT, json_encode(['ok' => true, 'value' => count($functions), 'type' => 'ready']) . "\n");
fflush(STDOUT);
while (($line = fgets(STDIN)) !== false) {
    $line = trim($line);
    if ($line === '') {
        continue;
    }
    $req = json_decode($line, true);
    try {
        if (!empty($req['nowsdl'])) {
            $value = $bare->__soapCall($req['op'], $req['args']);
        } elseif (isset($req['kwargs'])) {
            $value = $client->{$req['op']}(...$req['args'], ...$req['kwargs']);
        } else {
            $value = $client->__soapCall($req['op'], $req['args']);
        }
        $out = ['ok' => true, 'value' => $value, 'type' => gettype($value)];
    } catch (SoapFault $f) {
        $out = ['ok' => false, 'fault' => $f->faultcode, 'error' => $f->getMessage()];
    }
    fwrite(STDOUT, json_encode($out, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES) . "\n");
    fflush(STDOUT);
}
