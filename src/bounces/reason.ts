/** Classifies a failure (status, reply code, wording) into a bounce reason and says whether it is hard (pure). */
import { statusClass } from '../mail/status-codes';

/**
 * Why a message bounced, in the vocabulary of the Sisimai project (so our results compare with
 * its corpus). Only userunknown, hostunknown and hasmoved (and a permanent notaccept) say the
 * address itself is gone; the rest are about the message, the sender or the moment, and are soft
 * for the reader.
 */
export type BounceReason =
  | 'userunknown' | 'hostunknown' | 'hasmoved' | 'notaccept'
  | 'mailboxfull' | 'suspend' | 'exceedlimit' | 'mesgtoobig'
  | 'filtered' | 'rejected' | 'blocked' | 'spamdetected' | 'virusdetected' | 'contenterror'
  | 'policyviolation' | 'securityerror' | 'authfailure' | 'requireptr' | 'badreputation'
  | 'toomanyconn' | 'speeding' | 'norelaying' | 'notcompliantrfc' | 'syntaxerror'
  | 'expired' | 'networkerror' | 'systemerror' | 'systemfull' | 'mailererror' | 'onhold' | 'undefined';

/** Reasons where the address (or its domain) does not exist: hard. */
const hardReasons: ReadonlySet<BounceReason> = new Set(['userunknown', 'hostunknown', 'hasmoved']);

/**
 * Reasons that say the receiving side refuses *us* (reputation, blocklists, authentication,
 * policy), not that the reader's address is bad. Soft for the reader, but a burst of them in one
 * edition means a blocklisting, so the circuit breaker counts them beside hard bounces.
 */
export const senderFaultReasons: ReadonlySet<BounceReason> = new Set(['blocked', 'badreputation', 'requireptr', 'spamdetected', 'policyviolation', 'authfailure', 'securityerror']);

/** Hard or soft for the reader. notaccept (null MX, "accepts no mail") is hard unless temporary. */
export function isHardReason(reason: BounceReason, status?: string, replyCode?: number): boolean {
  if (hardReasons.has(reason)) return true;
  if (reason === 'notaccept') return statusClass(status, replyCode) !== 'temporary';
  return false;
}

export type SmtpCommand = 'CONN' | 'HELO' | 'MAIL' | 'RCPT' | 'DATA';

/** Which SMTP command the remote server was answering, when the bounce says. */
export function smtpCommandOf(text: string): SmtpCommand | undefined {
  const t = text.slice(0, 8000).replace(/\s+/g, ' ');
  if (/\b(?:after|in reply to|response to|for|did not like our|during) (?:the )?(?:end of data|final data|data|message body|text)\b|\bafter end of data\b|\b(?:DATA|TEXT) command\b|\bafter DATA\b|\bfinal DATA\b/i.test(t)) return 'DATA';
  if (/\b(?:after|in reply to|response to|for|did not like our) (?:the )?RCPT(?: TO)?\b|\bRCPT TO command\b|\bRCPT command\b|\bRCPT TO:?\s*</i.test(t)) return 'RCPT';
  if (/\b(?:after|in reply to|response to|for|did not like our) (?:the )?MAIL(?: FROM)?\b|\bMAIL FROM command\b/i.test(t)) return 'MAIL';
  if (/\b(?:after|in reply to|response to|for) (?:the )?(?:HELO|EHLO)\b|\bmy name was rejected\b|\b(?:HELO|EHLO) command\b/i.test(t)) return 'HELO';
  if (/\b(?:after|during) (?:the )?(?:initial )?connection\b|\bconnection (?:refused|timed out)\b|\bgreeting\b/i.test(t)) return 'CONN';
  return undefined;
}

/**
 * The command in a Sendmail-style transcript (">>> DATA" then "<<< 550 ..."). With PIPELINING the
 * replies after ">>> DATA" answer the RCPTs first and DATA last, so only a lone reply is DATA's.
 */
export function transcriptCommand(text: string): SmtpCommand | undefined {
  const m = /^>>> (DATA|RCPT|MAIL|HELO|EHLO)\b[^\n]*\n((?:<<< [^\n]*\n|[245]\d\d [^\n]*\n)*)/im.exec(text);
  if (!m) return undefined;
  const c = (m[1] as string).toUpperCase();
  const replies = (m[2] as string).split('\n').filter((l) => l.startsWith('<<<'));
  if (c === 'DATA' && replies.length > 1) return 'RCPT';
  return c === 'EHLO' ? 'HELO' : (c as SmtpCommand);
}

/** Wording that says the address does not exist, whatever the status code claims. */
const userUnknownStrong = /recipient address rejected\.(?:\s|$)|\bno valid recipients\b|recipient address rejected: (?:access denied|user unknown|unknown user|invalid user|userunknown|invalid-recipient)|RESOLVER\.ADR\.RecipientNotFound|\b5\.1\.10\b|not listed in (?:the )?(?:Domino Directory|public Name & Address Book)|ディレクトリのリストにありません|Domino ディレクトリには見つかりません|Invalid final delivery userid|unknown recipient or mailbox unavailable|requested action not taken: mailbox unavailable|\b(?:mailbox|mail box) (?:is )?(?:unavailable|not available)\b(?!.{0,300}\b(?:try again|temporar))/i;

const userUnknownText = /\b(?:user|users|recipient|rcpt|mailbox|mail box|address|account|addressee|local part|e-?mail address|e-?mail account|destination address|alias)\b(?: ?<[^<>\s]{1,254}>)?.{0,30}\b(?:unknown|not found|does not exist|doesn't exist|not exist|invalid|not valid|nonexistent|non-existent|not known|isn't in my list|not listed|no longer exists)\b|\bno (?:such )?(?:mail ?box|e-?mail account|account) (?:is )?(?:available|here|found|by that name|with that name)\b|\bno such (?:mail ?box|account|e-?mail address)\b|\b(?:user|recipient|mailbox|address|account|e-?mail address|e-?mail account)\b.{0,40}\b(?:couldn't|could not|cannot|can't|can not) be found\b|\bwasn't found at\b|\bwas not found at\b|\b(?:destinataire|adresse|compte|utilisateur|bo[iî]te aux lettres) (?:inconnue?|introuvable|inexistante?|n'existe pas)\b|\b(?:usuario|destinatario|buz[oó]n|cuenta) (?:desconocido|inexistente|no existe)\b|\b(?:utente|destinatario|indirizzo|casella) (?:sconosciut[oa]|inesistente|non esiste)\b|\b(?:empf[aä]nger|benutzer|adresse|postfach|mailbox) (?:ist )?(?:unbekannt|existiert nicht|nicht vorhanden)\b|\b(?:usu[aá]rio|destinat[aá]rio|conta) (?:desconhecid[oa]|inexistente|n[aã]o existe)\b|\b(?:onbekende (?:gebruiker|ontvanger)|(?:gebruiker|adres|mailbox) bestaat niet)\b|\bno such (?:user|mailbox|recipient|address|account|person|local user)\b|\bunknown (?:user|recipient|mailbox|address|local[ -]?part|account|e-?mail)\b|\binvalid (?:recipient|mailbox|address|user|e-?mail)\b|\bnot a valid (?:user|mailbox|recipient)\b|\bmailbox not found\b|\bbad (?:destination )?(?:mailbox|recipient|rcpt|address|user)\b|\brecip(?:ient)? ?not ?found\b|\bunknown or invalid (?:recipient|address|user)\b|\brecipient not found\b|\bno mailbox (?:here|by that name|found)\b|\bunrouteable address\b|\bdoes not have an account\b|\bno account by that name\b|\bdoesn't have an? .{1,60} account\b|\bunknown or illegal alias\b|\bnot a known user\b|\bis not a valid mailbox\b|\bno one at this address\b|\bno longer (?:valid|exists)\b|\bnot a local address\b|\bcheck if (?:the )?address is correct\b|\butilisateur inconnu\b|\bunbekannt\b|\bBadRcptTo\b|\bvalidrcptto\b|\bnot (?:a )?registered (?:gateway )?user\b/i;

/** Text patterns for the reasons other than unknown user/host, tried in order. */
const textRules: Array<[BounceReason, RegExp]> = [
  ['hasmoved', /\bhas been replaced by\b|\baddress has moved\b|\bmoved permanently\b|\bno longer (?:at|with) this address\b|\b551 User not local\b/i],
  ['mailboxfull', /\b(?:mailbox|mail ?box|inbox|account|disk|storage|user|recipient|mailfolder)\b.{0,40}\b(?:is full|full|over ?quota|exceeded (?:the |its |their )?(?:storage |size )?(?:quota|limit|allocation)|storage allocation|out of (?:disk )?space|too much mail|over (?:its |the )?(?:storage )?limit|size limit exceeded)\b|\bover ?quota\b|\bquota (?:exceeded|exceed|full|violation)\b|\bexceeded (?:its |the |storage |his |her )?(?:quota|storage allocation)\b|\binsufficient (?:disk )?(?:space|storage)\b|\bdisk quota\b|\bnot enough (?:storage|space)\b|\bmailbox size limit\b|\bnumber of messages in recipient's mailbox exceeded\b|\bmailbox has exceeded\b/i],
  ['suspend', /\b(?:mailbox|account|user|recipient|address)\b.{0,40}\b(?:disabled|suspended|deactivated|inactive|locked|frozen|closed|expired)\b|\b(?:disabled|suspended|deactivated|inactive|locked) (?:mailbox|account|recipient|user)\b|\bno longer (?:active|available)\b|\bis not (?:an )?active\b|\baccount has been (?:disabled|suspended|deleted)\b|\baccount (?:is )?(?:on hold|temporarily unavailable)\b/i],
  ['notaccept', /\bdoes not accept (?:any )?(?:e-?)?mail\b|\bnull mx\b|\bnot accepting (?:any )?mail\b(?! from)|\bdoes not receive mail\b|\baccepts no mail\b|\bno SMTP service\b|\bMX (?:record )?(?:points to|is) (?:\.|localhost|0\.0\.0\.0)/i],
  // A reader (or their mailbox) refusing our mail is their filter, not a dead address.
  ['filtered', /\b(?:they|recipients?|members?|users?|the user|addressee) (?:are|is) not accepting (?:mail|e-?mail|messages) from\b/i],
  ['virusdetected', /\bvirus\b|\bmalware\b|\binfected\b|\bbanned (?:attachment|content|file)/i],
  ['mailererror', /\bpipe to \||\bcommand (?:output|died|failed)\b|\bprocmail\b|\bmailer error\b|\bunknown mailer\b|\bprogram failed\b|\bX-Unix;/i],
  ['requireptr', /\b(?:no|without|missing|lacks?)\b.{0,30}\b(?:ptr|reverse dns|rdns)\b|\b(?:ptr|reverse dns|rdns)\b.{0,40}\b(?:not found|missing|required|does not|doesn't|failed|mismatch)|\bcannot find your (?:reverse )?hostname\b|\bno reverse (?:dns|lookup)\b|\bunresolvable (?:address|hostname|ip)\b|\bIP name (?:lookup|possibly forged)\b|\bPTR record\b/i],
  ['badreputation', /\b(?:bad|poor|low) (?:ip |sending |sender )?reputation\b|\breputation\b.{0,40}\b(?:rejected|not accepted|too low|block)|\bdue to (?:ip )?reputation\b|\bunusual rate of unsolicited mail\b/i],
  ['authfailure', /\b(?:dmarc|dkim|spf)\b.{0,60}\b(?:fail|policy|reject|not pass|check|alignment|unauthenticated)|\bunauthenticated (?:e-?mail|mail|sender)\b|\bauthentication checks? failed\b|\bsender policy framework\b|\bdid not pass .{0,20}(?:spf|dkim|dmarc)\b|\bnot authorized to send on behalf\b/i],
  ['securityerror', /\bauthentication (?:is )?required\b|\bmust (?:be )?authenticat|\bsmtp auth\w*\b.{0,30}\brequired\b|\bTLS (?:is )?required\b|\bmust issue a starttls\b|\bencryption required\b|\bdelivery not authori[sz]ed\b|\bnot permitted by security policy\b|\bsecurity (?:policy|error)\b/i],
  ['spamdetected', /\bspam\b(?!\s*(?:complaint|report|trap))|\bunsolicited\b|\bjunk (?:mail|e-?mail)\b|\blooks like (?:spam|junk)\b|\bscore\b.{0,30}\bexceed|\bsuspicious\b|\bphish|\bmessage content rejected\b|\bcontent (?:filter|scan)\w*\b.{0,30}\breject/i],
  ['blocked', /\bblock(?:ed|list|listed)\b|\bblacklist|\bdenylist|\bdnsbl\b|\brbl\b|\bspamhaus\b|\bspamcop\b|\bsorbs\b|\bbarracudacentral\b|\blisted (?:at|in|on|by) (?:the |a |an )?(?:\w+\.)*(?:rbl|dnsbl|blocklist|blacklist|spamhaus|spamcop|sorbs|barracuda)|\bclient host\b.{0,40}\brejected\b|\bnot allowed to send\b|\bip address\b.{0,40}\b(?:rejected|not allowed|denied|banned)\b|\bconnection (?:refused|rejected|denied) (?:from|for|by)\b|\bnot accepting (?:mail|connections) from\b|\b(?:your|the sending) (?:ip|server|host)\b.{0,40}\b(?:rejected|refused|denied|not allowed)\b|\baccess denied\b|\bmy name was rejected\b|\bAS\(\d+\)|\bEOBD\b|\bdenied by policy\b|\bPolicy Rejection\b/i],
  ['toomanyconn', /\btoo many (?:connections|concurrent|sessions|simultaneous)\b|\bconnection limit\b|\bmax(?:imum)? (?:number of )?connections\b/i],
  ['speeding', /\brate limit|\btoo many (?:messages|mails|emails)\b|\bsending (?:rate|quota)\b|\bthrottl|\bexceeded (?:the )?(?:rate|sending)\b|\breceiving mail at a rate\b|\btoo fast\b/i],
  ['mesgtoobig', /\b(?:message|mail|email)\b.{0,30}\b(?:too (?:big|large|long)|size exceeds|exceeds? (?:the )?(?:maximum )?(?:message )?size|larger than)\b|\bmessage (?:length|size) (?:exceeds|limit)\b|\bexceeds? (?:the )?maximum (?:allowed )?(?:message )?size\b|\bmessage file too big\b/i],
  ['exceedlimit', /\bexceeded (?:the )?(?:maximum )?(?:number|limit)\b.{0,20}\b(?:recipient|message)s?\b|\btoo many recipients\b|\brecipient limit\b/i],
  ['norelaying', /\brelay(?:ing)? (?:access )?(?:denied|not permitted|not allowed|prohibited)\b|\bunable to relay\b|\bnot permitted to relay\b|\bwe do not relay\b|\bno relaying\b|\brelay not permitted\b|\brelaying denied\b|\b(?:not|isn't|is not) (?:in|on) my list of (?:allowed )?rcpthosts\b/i],
  ['policyviolation', /\bpolicy violation\b|\bviolat\w* (?:our|the|local|site) (?:\w+ )?polic|\bprohibited (?:content|attachment|by policy)\b|\bcontent policy\b|\bnot allowed by (?:the )?(?:organi[sz]ation|local) policy\b/i],
  ['filtered', /\brecipient preferences\b|\b(?:rejected|refused|denied) by (?:the )?(?:recipient|user|mailbox owner)\b(?!'s| (?:domain|server|system|host|mail server|mx))|\brecipient.{0,30}\b(?:refuses|does not accept|doesn't accept)\b|\bfiltered\b|\bsender (?:is )?not (?:allowed|permitted|authorized)\b|\bonly accepts? (?:mail|messages) from\b|\bnot a member of\b/i],
  ['onhold', /\bon hold\b/i],
  ['contenterror', /\bmedia error\b|\bcontent\b.{0,30}\b(?:error|invalid)|\bheader\b.{0,30}\b(?:error|invalid|too long|syntax)|\bmime\b.{0,30}\berror\b|\binvalid (?:message|content|header|character)\b|\bline too long\b/i],
  ['notcompliantrfc', /\bRFC ?(?:2822|5322|822|5321|1123)\b|\bnot (?:RFC|standard)[- ]compliant\b|\bmultiple (?:from|date|subject|message-id) headers?\b|\bduplicate header\b|\bmissing (?:required )?(?:header|date|from|message-id)\b/i],
  ['syntaxerror', /\bsyntax error\b|\bcommand (?:not recognized|unrecognized)\b|\bunrecognized command\b|\bbad sequence of commands\b/i],
  ['systemfull', /\b(?:system|server|spool|queue)\b.{0,20}\b(?:full|out of (?:disk )?space|insufficient)\b|\binsufficient system storage\b/i],
];

const hostUnknownText = /\bhost(?:name)? (?:not found|unknown|or domain name not found)\b|\bhost \S+ not found\b|\bunknown host\b|\bdomain (?:name )?(?:not found|does not exist|doesn't exist|unknown|lookup failed|is not (?:found|registered|valid)|is not reachable)\b|\bunrouteable (?:mail )?domain\b|\bno (?:mx|mail exchanger|such (?:domain|host))\b|\bname or service not known\b|\bNXDOMAIN\b|\bnon-existent (?:domain|host)\b|\bunknown domain\b|\binvalid domain\b|\bmx (?:record )?(?:not found|lookup failed)\b|\bnot have (?:a )?(?:valid )?mx\b|\bcannot be resolved\b|\bunroutable\b|\b[a-z0-9-]+(?:\.[a-z0-9-]+)+ does not exist\b|\bdomain is not reachable\b/i;

const tailRules: Array<[BounceReason, RegExp]> = [
  ['expired', /\b(?:delivery|message|retry)\b.{0,30}\b(?:time(?:d)? ?out|expired|gave up|given up)\b|\bexpired\b|\bgiving up\b|\bcould not be delivered (?:within|for) \d|\bhas been delayed\b|\bstill trying\b|\bnot (?:yet )?been delivered\b|\bwill (?:retry|continue trying)\b|\btoo long in (?:the )?queue\b|\bbeen in the queue too long\b|\bdeferred\b|\bmessage delayed\b/i],
  ['networkerror', /\bconnection (?:timed out|time out|reset|refused|lost|closed|dropped)\b|\btimed out\b|\bnetwork (?:is )?unreachable\b|\bno route to host\b|\bcould not connect\b|\bunable to connect\b|\bconnect to .{0,200} failed\b|\bmail loop\b|\brouting loop\b|\btoo many hops\b|\bloops? back to myself\b|\bhop count exceeded\b|\bdns (?:error|failure|lookup)\b|\bname service error\b|\blost connection\b|\bremote host (?:closed|dropped)\b|\bmalformed or unexpected name server reply\b|\bTLS\b.{0,30}\b(?:fail|error|handshake)\b/i],
  ['systemerror', /\bsystem (?:error|failure|config)|\binternal (?:server |system )?error\b|\bserver (?:error|failure|misconfigur)|\blocal (?:error|configuration error)|\bconfiguration error\b|\bservice (?:not available|unavailable)\b|\btemporary (?:failure|problem|error|local problem)\b|\btry again later\b|\bserver busy\b|\bresources? (?:temporarily )?unavailable\b|\bmisconfigur|\bI\/O error\b|\bmail system problem\b/i],
];

/** Reason from an enhanced status code alone, for codes that say it plainly (RFC 3463). */
const statusReasons: Record<string, BounceReason> = {
  '5.1.1': 'userunknown', '5.1.0': 'userunknown', '5.1.3': 'userunknown', '5.1.6': 'hasmoved', '5.1.10': 'userunknown', '5.1.2': 'hostunknown', '5.4.4': 'hostunknown',
  '5.1.8': 'rejected', '4.1.8': 'rejected', '5.1.7': 'rejected', '4.1.7': 'rejected',
  '5.2.1': 'suspend', '4.2.1': 'suspend', '5.2.2': 'mailboxfull', '4.2.2': 'mailboxfull', '5.2.3': 'mesgtoobig', '5.3.4': 'mesgtoobig', '4.3.1': 'systemfull', '5.3.1': 'systemfull', '5.5.3': 'exceedlimit',
  '5.4.6': 'networkerror', '4.4.6': 'networkerror', '5.4.7': 'expired', '4.4.7': 'expired', '4.4.1': 'networkerror', '4.4.2': 'networkerror', '4.4.3': 'networkerror', '5.4.3': 'networkerror', '5.4.1': 'networkerror', '5.4.2': 'networkerror', '4.4.5': 'systemfull',
  '5.7.1': 'securityerror', '5.7.0': 'securityerror', '5.7.23': 'authfailure', '5.7.24': 'authfailure', '5.7.25': 'requireptr', '5.7.26': 'authfailure', '5.7.27': 'notaccept', '5.1.9': 'notaccept', '5.1.5': 'userunknown', '5.7.7': 'securityerror', '5.7.9': 'securityerror', '5.7.8': 'securityerror', '4.7.1': 'blocked',
  '5.6.0': 'contenterror', '5.6.1': 'contenterror', '5.6.3': 'contenterror', '5.3.0': 'systemerror', '5.3.2': 'systemerror', '4.3.0': 'systemerror', '4.3.2': 'systemerror',
  '5.5.0': 'syntaxerror', '5.5.1': 'syntaxerror', '5.5.2': 'syntaxerror', '5.5.4': 'syntaxerror',
};

/** The sender (us), not the reader, was refused: MAIL FROM rejected, sender domain unknown. */
const senderRejected = /\bsender (?:address )?(?:rejected|refused|denied|unknown|invalid|verify failed)|\b(?:domain|address) of sender\b|\bunroutable sender\b|\bsender verif\w* fail|\binvalid sender\b|\bbad sender\b|\bsender domain (?:must exist|does not exist|not found|unknown)\b|\breturn[- ]path\b.{0,30}\b(?:invalid|rejected|not)\b/i;

/**
 * Classifies one failure from its enhanced status, reply code and diagnostic text (pure). The
 * wording usually says more than the code (a 5.1.1 that really says "mailbox full" is common),
 * so explicit wording wins; where the remote side answered MAIL FROM, the problem is the sender;
 * an "unknown user" said only after DATA is a filter, not a missing address.
 */
export function classifyReason(input: { status?: string; replyCode?: number; diagnostic?: string; action?: string; command?: SmtpCommand }): BounceReason {
  // Bounded: a diagnostic is a line or two; some servers write their words with underscores (BAD_RECIPIENT).
  const text = (input.diagnostic ?? '').slice(0, 8000).replace(/[\s_]+/g, ' ');
  const status = input.status ?? '';
  const command = smtpCommandOf(text) ?? input.command;
  const temporary = statusClass(input.status, input.replyCode) === 'temporary';
  if (/^[45]\.1\.[78]$/.test(status) || command === 'MAIL' || senderRejected.test(text)) return 'rejected';
  if (status === '5.2.2' || status === '4.2.2') return 'mailboxfull';
  // "Unknown user" said only after DATA is a content filter talking, unless the code says 5.1.x too.
  const unknownAfterData = command === 'DATA' && !/^[45]\.1\./.test(status);
  if (userUnknownStrong.test(text)) return unknownAfterData ? 'filtered' : 'userunknown';
  for (const [reason, pattern] of textRules) if (pattern.test(text)) return reason;
  if (userUnknownText.test(text)) {
    return unknownAfterData ? 'filtered' : 'userunknown';
  }
  if (/malformed or unexpected name server reply|\bnot found, try again\b|\bSERVFAIL\b/i.test(text)) return 'networkerror';
  if (hostUnknownText.test(text)) return temporary ? 'networkerror' : 'hostunknown';
  if (command === 'HELO') return 'blocked';
  if (statusReasons[status]) return statusReasons[status] as BounceReason;
  for (const [reason, pattern] of tailRules) if (pattern.test(text)) return reason;
  const generic = status.replace(/^([245])\.(\d+)\.\d+$/, '$1.$2');
  if (generic === '5.1') return 'userunknown';
  if (generic === '4.4' || generic === '5.4') return 'networkerror';
  if (generic === '5.7' || generic === '4.7') return 'securityerror';
  if (generic === '5.6' || generic === '4.6') return 'contenterror';
  if (input.action === 'delayed') return 'expired';
  return text ? 'onhold' : 'undefined';
}
