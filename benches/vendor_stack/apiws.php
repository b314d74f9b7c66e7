<?php
// The vendor's stack of the `vendor_stack` bench: eXpand's `apiws/2/apiws.php` as PHP's
// SoapServer serves it (WSDL mode, rpc/encoded; the engine's own WSDL, its address set to this
// server), with the two operations the bench measures. Each request opens the SQLite file the
// bench seeded (schema.sql; its path in APIWS_DB, set by nginx), checks the key (`<id>.<secret>`:
// the row of its id for eXpand, not revoked, and the SHA-256 of its secret), then answers:
//   originateCallStatus: the job's state by id in the engine's codes (0: no such job);
//   statusQueues:        the `<panel>` document, built from the agent, queue, queue_member and
//                        queue_call tables in the engine's layout (same lines, same escaping).
// A refused key is -1 (originateCallStatus) or "-1" (statusQueues), as the engine answers.

final class ApiWs
{
    private ?PDO $db = null;

    private function db(): PDO
    {
        if ($this->db === null) {
            $this->db = new PDO('sqlite:' . $_SERVER['APIWS_DB'], null, null, [
                PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
            ]);
        }
        return $this->db;
    }

    private function authorized(?string $key): bool
    {
        $key = trim((string) $key);
        $dot = strpos($key, '.');
        if ($dot === false || $dot === 0 || $dot === strlen($key) - 1) {
            return false;
        }
        $st = $this->db()->prepare(
            'SELECT secret_sha256 FROM api_key WHERE id = ? AND api = ? AND revoked_at IS NULL'
        );
        $st->execute([substr($key, 0, $dot), 'expand']);
        $hash = $st->fetchColumn();
        return is_string($hash) && hash_equals($hash, hash('sha256', substr($key, $dot + 1)));
    }

    public function originateCallStatus($authorizedKey, $originatedID)
    {
        if (!$this->authorized($authorizedKey)) {
            return -1;
        }
        $id = (string) $originatedID;
        if (!preg_match('/^[A-Za-z0-9-]{1,64}$/', $id)) {
            return 0;
        }
        $st = $this->db()->prepare('SELECT state FROM originate_job WHERE id = ?');
        $st->execute([$id]);
        $state = $st->fetchColumn();
        $codes = [
            'ringing' => 1, 'answered' => 2, 'hungup' => 3, 'cancelled' => 3, 'busy' => 4,
            'noanswer' => 5, 'unavailable' => 6, 'source_offhook' => 7,
        ];
        return is_string($state) ? ($codes[$state] ?? 0) : 0;
    }

    public function statusQueues($authorizedKey)
    {
        if (!$this->authorized($authorizedKey)) {
            return '-1';
        }
        $db = $this->db();
        $e = static fn ($v): string => htmlspecialchars((string) $v, ENT_COMPAT | ENT_XML1, 'UTF-8');
        $out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
        $out .= sprintf("<panel generated=\"%.2f\">\n  <agents>\n", microtime(true));
        foreach ($db->query('SELECT * FROM agent ORDER BY position') as $a) {
            $out .= '    <agent lastcongestion="' . $e($a['lastcongestion'])
                . '" laststatuschange="' . $e($a['laststatuschange']) . '" name="' . $e($a['name'])
                . '" status="' . $e($a['status']) . '" warning="' . $e($a['warning']) . '">'
                . $e($a['number']) . "</agent>\n";
        }
        $out .= "  </agents>\n  <queues>\n";
        $members = $db->prepare('SELECT * FROM queue_member WHERE qname = ? ORDER BY position');
        $calls = $db->prepare('SELECT * FROM queue_call WHERE qname = ? ORDER BY position');
        foreach ($db->query('SELECT * FROM queue ORDER BY position')->fetchAll() as $q) {
            $out .= '    <queue qname="' . $e($q['qname']) . '" name="' . $e($q['name']) . "\">\n"
                . "      <qstatus>\n";
            foreach (['abandoned', 'completed', 'counterabn', 'counterans', 'numongoing',
                      'numwaiting', 'ratio'] as $k) {
                $out .= "        <$k>" . $e($q[$k]) . "</$k>\n";
            }
            $out .= "      </qstatus>\n      <qagents>\n";
            $members->execute([$q['qname']]);
            foreach ($members->fetchAll() as $m) {
                $out .= '        <qagent logged="true" paused="' . ($m['paused'] ? 'true' : 'false')
                    . '" status="' . $e($m['status']) . '" pausetype="' . $e($m['pausetype'])
                    . '">' . $e($m['agent']) . "</qagent>\n";
            }
            $out .= "      </qagents>\n      <qcalls>\n";
            $calls->execute([$q['qname']]);
            foreach ($calls->fetchAll() as $c) {
                $out .= '        <call type="' . $e($c['type']) . '" callerid="' . $e($c['callerid'])
                    . '" calleridname="' . $e($c['calleridname']) . '" connecttime="'
                    . $e($c['connecttime']) . '" intime="' . $e($c['intime']) . '" uniqueid="'
                    . $e($c['uniqueid']) . '">' . $e($c['agent']) . "</call>\n";
            }
            $out .= "      </qcalls>\n    </queue>\n";
        }
        return $out . "  </queues>\n</panel>\n";
    }
}

$server = new SoapServer($_SERVER['APIWS_WSDL'], [
    'cache_wsdl' => WSDL_CACHE_BOTH,
    'encoding' => 'UTF-8',
]);
$server->setClass('ApiWs');
$server->handle();
