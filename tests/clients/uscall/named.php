<?php
// A USCall integration written from the document rather than the WSDL: PHP SoapClient in
// non-WSDL mode, every part named as the document spells it (`Formato`, `Dataini`, `Datafin`,
// `Token`...) with SoapParam, the JSON answer json_decode()d and `retorno` read.
//
// Usage: php named.php ENDPOINT_URL OPERATION NAME=VALUE ...
//   with OUT_FILE set, a retorno->arquivo_base_64 is base64_decode()d into that file and
//   replaced by its decoded length in the output.
// Prints {"status":..,"codigo":..,"retorno":..} as PHP read it; exit 2 if the answer is not JSON.
$location = $argv[1];
$op = $argv[2];
$params = [];
foreach (array_slice($argv, 3) as $pair) {
    $eq = strpos($pair, '=');
    $params[] = new SoapParam(substr($pair, $eq + 1), substr($pair, 0, $eq));
}
$client = new SoapClient(null, [
    'location' => $location,
    'uri' => 'urn:wsuscall',
    'exceptions' => true,
]);
$result = $client->__soapCall($op, $params);
$r = json_decode($result);
if ($r === null || !property_exists($r, 'retorno')) {
    fwrite(STDERR, "not a USCall JSON answer: " . var_export($result, true) . "\n");
    exit(2);
}
$retorno = $r->retorno;
$out = getenv('OUT_FILE');
if ($out && is_object($retorno) && isset($retorno->arquivo_base_64)) {
    file_put_contents($out, base64_decode($retorno->arquivo_base_64, true));
    $retorno->arquivo_base_64 = strlen(base64_decode($retorno->arquivo_base_64, true));
}
echo json_encode([
    'status' => $r->status,
    'codigo' => isset($r->codigo) ? $r->codigo : null,
    'retorno' => $retorno,
], JSON_UNESCAPED_UNICODE), "\n";
