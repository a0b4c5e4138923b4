/* smneo/diagnose.h: why did a compilation job fail?
 *
 * smneo_explain() matches a job's description (DescribeCompilationJob's
 * result, as JSON) and its compile log (the lines of the CloudWatch Logs
 * streams named after the job) against a catalogue of known Neo failures and
 * answers with the likely cause, the fix, the validation or layout rule that
 * catches the problem before a job is created, and the evidence: the text
 * that matched. The catalogue is data (model/neo-failures.json, listed in
 * docs/diagnosis.md); its patterns are compiled on the first call, never at
 * load time.
 *
 * Ownership: smneo_explain's *out is the caller's (smneo_diagnosis_free).
 * Every string a diagnosis hands out is borrowed and lives as long as the
 * diagnosis; text taken from the input (job name, FailureReason, evidence) is
 * valid UTF-8 with control characters replaced. The catalogue's entries are
 * static. Thread-safe: no shared mutable state after the first call. */
#ifndef SMNEO_DIAGNOSE_H
#define SMNEO_DIAGNOSE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How AWS's troubleshooting pages classify Neo errors. */
typedef enum {
    SMNEO_FAILURE_NONE = 0,        /* nothing to explain: the job did not fail */
    SMNEO_FAILURE_USER = 1,        /* user error: permissions (IAM, S3, KMS) or the request's input */
    SMNEO_FAILURE_LOAD = 2,        /* load error: the archive's files, or the framework cannot load the model */
    SMNEO_FAILURE_COMPILATION = 3, /* compilation error: an operator or attribute the compiler lacks */
    SMNEO_FAILURE_SYSTEM = 4       /* system error: the service's own, and every error AWS does not list */
} smneo_failure_category;

/* Where the evidence comes from. */
typedef enum {
    SMNEO_EVIDENCE_NONE = 0,
    SMNEO_EVIDENCE_FAILURE_REASON = 1, /* the description's FailureReason */
    SMNEO_EVIDENCE_LOG = 2,            /* a log line (smneo_diagnosis_evidence_line) */
    SMNEO_EVIDENCE_VALIDATION = 3      /* a validation error of the job's own parameters */
} smneo_evidence_kind;

/* "FailureReason", "log", "validation", or NULL for SMNEO_EVIDENCE_NONE. */
SMNEO_EXTERN(const char *) smneo_evidence_kind_name(smneo_evidence_kind k);

/* One entry of the catalogue (static). */
typedef struct smneo_failure_entry {
    const char *id;                    /* stable id, e.g. "pytorch-state-dict" */
    smneo_failure_category category;
    const char *title;                 /* one line */
    const char *cause;
    const char *fix;
    const char *rule;                  /* validation / layout rule id, or NULL */
    const char *source;                /* the AWS page the entry is based on */
} smneo_failure_entry;

SMNEO_EXTERN(size_t) smneo_diagnosis_catalogue_count(void);
/* NULL past the end. */
SMNEO_EXTERN(const smneo_failure_entry *) smneo_diagnosis_catalogue_at(size_t i);
/* "user", "load", "compilation", "system", "none". Never NULL. */
SMNEO_EXTERN(const char *) smneo_failure_category_name(smneo_failure_category c);

typedef struct smneo_diagnosis smneo_diagnosis;

/* Explains a job's failure.
 *
 * description_json: the job's description (a JSON object: CompilationJobName,
 *   CompilationJobStatus, FailureReason, InputConfig, OutputConfig, ... as
 *   DescribeCompilationJob returns them; members may be missing), or NULL
 *   (len 0) to explain log lines alone.
 * log_lines: n_lines lines of the compile log in time order (may be NULL when
 *   n_lines is 0); line_lens their lengths in bytes, or NULL when every line
 *   is NUL-terminated. Lines are bytes: invalid UTF-8 and control characters
 *   are tolerated. The matcher reads at most the last 20000 lines and the
 *   first 16 KiB of each.
 *
 * A job whose status is not FAILED gets the diagnosis "not-failed"; a failure
 * the catalogue does not know gets "unknown" (category system, as AWS counts
 * every error it does not list as a system error). Returns 0, or
 * SMNEO_EINVAL (a NULL out, a description that is not a JSON object, a NULL
 * line) or SMNEO_ENOMEM, with err filled. */
SMNEO_EXTERN(int) smneo_explain(smneo_diagnosis **out, const char *description_json, size_t len,
                                const char *const *log_lines, const size_t *line_lens, size_t n_lines,
                                smneo_error *err);
SMNEO_EXTERN(void) smneo_diagnosis_free(smneo_diagnosis *d);

/* The catalogue id, or "unknown", or "not-failed". Never NULL. */
SMNEO_EXTERN(const char *) smneo_diagnosis_id(const smneo_diagnosis *d);
/* 1 when a catalogue entry matched (then smneo_diagnosis_entry is set). */
SMNEO_EXTERN(int) smneo_diagnosis_matched(const smneo_diagnosis *d);
SMNEO_EXTERN(const smneo_failure_entry *) smneo_diagnosis_entry(const smneo_diagnosis *d);
SMNEO_EXTERN(smneo_failure_category) smneo_diagnosis_category(const smneo_diagnosis *d);
/* Title, cause and fix are never NULL (for "unknown" and "not-failed" too). */
SMNEO_EXTERN(const char *) smneo_diagnosis_title(const smneo_diagnosis *d);
SMNEO_EXTERN(const char *) smneo_diagnosis_cause(const smneo_diagnosis *d);
SMNEO_EXTERN(const char *) smneo_diagnosis_fix(const smneo_diagnosis *d);
/* The rule that catches it before a job is created, or NULL. */
SMNEO_EXTERN(const char *) smneo_diagnosis_rule(const smneo_diagnosis *d);
/* The AWS page, or NULL for "unknown" and "not-failed". */
SMNEO_EXTERN(const char *) smneo_diagnosis_source(const smneo_diagnosis *d);
/* The text that matched (at most about 1 KiB, cut at a character boundary
 * with "..."), or NULL. */
SMNEO_EXTERN(const char *) smneo_diagnosis_evidence(const smneo_diagnosis *d);
SMNEO_EXTERN(smneo_evidence_kind) smneo_diagnosis_evidence_kind(const smneo_diagnosis *d);
/* For SMNEO_EVIDENCE_LOG: the 0-based index of the line in log_lines;
 * (size_t)-1 otherwise. */
SMNEO_EXTERN(size_t) smneo_diagnosis_evidence_line(const smneo_diagnosis *d);
/* From the description, or NULL when absent. */
SMNEO_EXTERN(const char *) smneo_diagnosis_job_name(const smneo_diagnosis *d);
SMNEO_EXTERN(const char *) smneo_diagnosis_status(const smneo_diagnosis *d);
SMNEO_EXTERN(const char *) smneo_diagnosis_failure_reason(const smneo_diagnosis *d);
/* The errors of the Neo rules (neo.*) that the job's own parameters break,
 * found by validating InputConfig, OutputConfig and the rest of the
 * description as a CreateCompilationJob request (unknown enum values
 * allowed). Borrowed; never NULL (possibly empty). */
SMNEO_EXTERN(const smneo_issues *) smneo_diagnosis_issues(const smneo_diagnosis *d);

/* The diagnosis as text for people (several lines joined by '\n', no final
 * newline): caller-owned, free(). Returns 0, SMNEO_EINVAL or SMNEO_ENOMEM. */
SMNEO_EXTERN(int) smneo_diagnosis_format(char **out, const smneo_diagnosis *d);

#ifdef __cplusplus
}
#endif
#endif
