package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// ErrQueueFull means EnqueueGrading refused a job because the grading queue
// already holds as many queued jobs as the caller allows.
var ErrQueueFull = errors.New("grading queue full")

// MaxSubmissionFiles bounds a submission's zip of files, and MaxSubmissionState
// its account snapshot, in bytes.
const (
	MaxSubmissionFiles = 20 << 20
	MaxSubmissionState = 20 << 20
)

// maxReportLen bounds one stored grading report: a few hundred checks with
// their messages and log excerpts.
const maxReportLen = 4 << 20

// SubmissionSource says what a submission is made of.
type SubmissionSource string

const (
	// SourceDir is a folder of files: `lambdalab grade --dir`, an upload.
	SourceDir SubmissionSource = "dir"
	// SourceAccount is a snapshot of the learner's emulated account.
	SourceAccount SubmissionSource = "account"
)

// Submission is one piece of work handed in for grading.
type Submission struct {
	ID int64
	// UserID is the learner; 0 for a command-line run, which has no user.
	UserID    int64
	Lab       string // the lab's id
	CreatedAt time.Time
	Source    SubmissionSource
	// Files is a zip of the submitted folder, at most MaxSubmissionFiles
	// bytes; nil when there is none.
	Files []byte
	// State is a JSON snapshot of the learner's account when they
	// submitted, at most MaxSubmissionState bytes; nil when there is none.
	State []byte
	// Answers are the learner's answers to the lab's questions, by question
	// id; never nil when read back.
	Answers map[string]string
}

// GradeStatus is a report's verdict.
type GradeStatus string

const (
	GradePass GradeStatus = "pass"
	GradeFail GradeStatus = "fail"
	// GradeError means the learner's code could not be run at all (it does
	// not import, its handler is missing) or the platform failed. It is not
	// an attempt: it changes no lab progress.
	GradeError GradeStatus = "error"
)

// GradeReport is the grader's verdict on one submission.
type GradeReport struct {
	SubmissionID int64
	Status       GradeStatus
	Score        float64 // 0 to 1
	// Report is the grader's report as JSON; the grader owns its shape.
	Report []byte
	// PassedChecks are the ids of the checks that passed; they are added
	// to the learner's passed checks of the lab (see PassedChecks), also
	// when the report as a whole fails.
	PassedChecks []string
	FinishedAt   time.Time // zero means now
}

// LabProgress is a learner's standing in one lab, over every graded
// submission whose status was pass or fail.
type LabProgress struct {
	Lab            string
	Attempts       int // graded submissions, pass or fail
	FailedAttempts int // of which failed
	BestScore      float64
	// PassedAt is when the first passing report finished; zero until then.
	// A later failing attempt does not clear it.
	PassedAt      time.Time
	LastAttemptAt time.Time
}

// Passed reports whether the learner has ever passed the lab.
func (p LabProgress) Passed() bool { return !p.PassedAt.IsZero() }

// GradingState is where a grading job is in its life.
type GradingState string

const (
	GradingQueued   GradingState = "queued"
	GradingRunning  GradingState = "running"
	GradingDone     GradingState = "done"
	GradingCanceled GradingState = "canceled"
	GradingFailed   GradingState = "failed"
)

// Finished reports whether the state is final: done, canceled or failed.
func (s GradingState) Finished() bool {
	return s == GradingDone || s == GradingCanceled || s == GradingFailed
}

// GradingJob is one submission waiting for, or going through, grading.
type GradingJob struct {
	ID           int64
	SubmissionID int64
	UserID       int64 // 0 for a command-line run
	Lab          string
	State        GradingState
	// CancelRequested is set on a running job that was asked to stop; its
	// worker cancels the run and marks it canceled.
	CancelRequested bool
	QueuedAt        time.Time
	StartedAt       time.Time // the latest attempt's start; zero while queued
	FinishedAt      time.Time // zero until the job is finished
	// Attempts counts the times a worker took the job, this one included.
	Attempts int
	// Error says, for people, why the job failed or why its last attempt
	// was retried; empty otherwise.
	Error string
}

// nullID is NULL for the zero id: a command-line run has no user.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func checkSubmission(s *Submission) error {
	if err := checkSlug("lab", s.Lab); err != nil {
		return err
	}
	if s.Source != SourceDir && s.Source != SourceAccount {
		return fmt.Errorf("%w: submission source %q is neither %q nor %q", ErrInvalid, s.Source, SourceDir, SourceAccount)
	}
	if len(s.Files) > MaxSubmissionFiles {
		return fmt.Errorf("%w: submitted files are %d bytes, more than %d", ErrInvalid, len(s.Files), MaxSubmissionFiles)
	}
	if len(s.State) > MaxSubmissionState {
		return fmt.Errorf("%w: account snapshot is %d bytes, more than %d", ErrInvalid, len(s.State), MaxSubmissionState)
	}
	if len(s.State) > 0 && !json.Valid(s.State) {
		return fmt.Errorf("%w: account snapshot is not JSON", ErrInvalid)
	}
	for id := range s.Answers {
		if id == "" {
			return fmt.Errorf("%w: an answer has an empty question id", ErrInvalid)
		}
	}
	return nil
}

func encodeAnswers(a map[string]string) (string, error) {
	if a == nil {
		a = map[string]string{}
	}
	b, err := json.Marshal(a)
	if err != nil {
		return "", err
	}
	if len(b) > maxAnswersLen {
		return "", fmt.Errorf("%w: answers longer than %d bytes", ErrInvalid, maxAnswersLen)
	}
	return string(b), nil
}

// CreateSubmission stores s and returns it with its id (and its creation
// time, if s had none). s.ID is ignored. ErrInvalid for a bad lab id,
// source or size; ErrNotFound if there is no such user.
func (db *DB) CreateSubmission(ctx context.Context, s Submission) (Submission, error) {
	if err := checkSubmission(&s); err != nil {
		return Submission{}, fmt.Errorf("create submission for user %d: %w", s.UserID, err)
	}
	answers, err := encodeAnswers(s.Answers)
	if err != nil {
		return Submission{}, fmt.Errorf("create submission of %s for user %d: %w", s.Lab, s.UserID, err)
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = db.now()
	}
	s.CreatedAt = s.CreatedAt.UTC()
	files, state := s.Files, s.State
	if files == nil {
		files = []byte{} // the columns are NOT NULL
	}
	if state == nil {
		state = []byte{}
	}
	err = db.conn.QueryRowContext(ctx,
		`INSERT INTO submissions (user_id, lab, created_at, source, files, state, answers)
		 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		nullID(s.UserID), s.Lab, toNanos(s.CreatedAt), string(s.Source), files, state, answers,
	).Scan(&s.ID)
	if isForeignKeyViolation(err) {
		return Submission{}, fmt.Errorf("create submission of %s for user %d: user %w", s.Lab, s.UserID, ErrNotFound)
	}
	if err != nil {
		return Submission{}, fmt.Errorf("create submission of %s for user %d: %w", s.Lab, s.UserID, err)
	}
	if s.Answers == nil {
		s.Answers = map[string]string{}
	}
	if len(s.Files) == 0 {
		s.Files = nil
	}
	if len(s.State) == 0 {
		s.State = nil
	}
	return s, nil
}

// scanSubmission reads the columns of submissionColumns, plus files and
// state when blobs is set.
func scanSubmission(row rowScanner, blobs bool) (Submission, error) {
	var (
		s       Submission
		user    sql.NullInt64
		created int64
		source  string
		answers string
	)
	dest := []any{&s.ID, &user, &s.Lab, &created, &source, &answers}
	if blobs {
		dest = append(dest, &s.Files, &s.State)
	}
	if err := row.Scan(dest...); err != nil {
		return Submission{}, err
	}
	s.UserID = user.Int64
	s.CreatedAt = fromNanos(created)
	s.Source = SubmissionSource(source)
	if err := json.Unmarshal([]byte(answers), &s.Answers); err != nil {
		return Submission{}, fmt.Errorf("decode answers: %w", err)
	}
	if s.Answers == nil {
		s.Answers = map[string]string{}
	}
	if len(s.Files) == 0 {
		s.Files = nil
	}
	if len(s.State) == 0 {
		s.State = nil
	}
	return s, nil
}

const submissionColumns = "id, user_id, lab, created_at, source, answers"

// Submission returns the submission with this id, files and state
// included, or ErrNotFound.
func (db *DB) Submission(ctx context.Context, id int64) (Submission, error) {
	s, err := scanSubmission(db.conn.QueryRowContext(ctx,
		"SELECT "+submissionColumns+", files, state FROM submissions WHERE id = $1", id), true)
	if errors.Is(err, sql.ErrNoRows) {
		return Submission{}, fmt.Errorf("submission %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Submission{}, fmt.Errorf("submission %d: %w", id, err)
	}
	return s, nil
}

// Submissions returns a user's submissions of lab, newest first, at most
// limit of them (all when limit is 0 or less), without their files and
// state. userID 0 lists command-line runs; an empty lab lists every lab.
func (db *DB) Submissions(ctx context.Context, userID int64, lab string, limit int) ([]Submission, error) {
	// Fixed filters chosen here rather than "$1 = 0 OR ...", which would
	// keep SQLite from using the (user_id, lab) index.
	var (
		where []string
		args  []any
	)
	if userID == 0 {
		where = append(where, "user_id IS NULL")
	} else {
		args = append(args, userID)
		where = append(where, fmt.Sprintf("user_id = $%d", len(args)))
	}
	if lab != "" {
		args = append(args, lab)
		where = append(where, fmt.Sprintf("lab = $%d", len(args)))
	}
	query := "SELECT " + submissionColumns + " FROM submissions WHERE " + strings.Join(where, " AND ") + " ORDER BY id DESC"
	if limit > 0 {
		args = append(args, limit)
		query += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	rows, err := db.conn.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("submissions of user %d: %w", userID, err)
	}
	defer rows.Close()
	var out []Submission
	for rows.Next() {
		s, err := scanSubmission(rows, false)
		if err != nil {
			return nil, fmt.Errorf("submissions of user %d: %w", userID, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("submissions of user %d: %w", userID, err)
	}
	return out, nil
}

func checkReport(r *GradeReport) error {
	switch r.Status {
	case GradePass, GradeFail, GradeError:
	default:
		return fmt.Errorf("%w: report status %q is not pass, fail or error", ErrInvalid, r.Status)
	}
	if math.IsNaN(r.Score) || r.Score < 0 || r.Score > 1 {
		return fmt.Errorf("%w: score %v is outside 0..1", ErrInvalid, r.Score)
	}
	if len(r.Report) > maxReportLen {
		return fmt.Errorf("%w: report is %d bytes, more than %d", ErrInvalid, len(r.Report), maxReportLen)
	}
	if !json.Valid(r.Report) {
		return fmt.Errorf("%w: report is not JSON", ErrInvalid)
	}
	// The report is kept as text; json.Valid lets invalid UTF-8 through.
	if !fitsText(string(r.Report)) {
		return fmt.Errorf("%w: report is not valid UTF-8", ErrInvalid)
	}
	return nil
}

// SaveReport stores the report of a submission and, in the same
// transaction, updates the learner's progress in its lab: a pass or a fail
// is an attempt (a fail a failed one), the best score is kept, and the
// first pass sets PassedAt for good. An error report is stored but is not
// an attempt. A command-line run's report touches no progress.
// ErrNotFound if there is no such submission; ErrExists if it already has
// a report (a job run again after a crash finds its submission graded).
func (db *DB) SaveReport(ctx context.Context, submissionID int64, r GradeReport) error {
	r.SubmissionID = submissionID
	if err := checkReport(&r); err != nil {
		return fmt.Errorf("save report of submission %d: %w", submissionID, err)
	}
	if r.FinishedAt.IsZero() {
		r.FinishedAt = db.now()
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return fmt.Errorf("save report of submission %d: %w", submissionID, err)
	}
	defer tx.Rollback()
	var (
		user sql.NullInt64
		lab  string
	)
	err = tx.QueryRowContext(ctx, "SELECT user_id, lab FROM submissions WHERE id = $1", submissionID).Scan(&user, &lab)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("save report of submission %d: submission %w", submissionID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("save report of submission %d: %w", submissionID, err)
	}
	finished := toNanos(r.FinishedAt)
	_, err = tx.ExecContext(ctx,
		"INSERT INTO grade_reports (submission_id, status, score, report, finished_at) VALUES ($1, $2, $3, $4, $5)",
		submissionID, string(r.Status), r.Score, string(r.Report), finished)
	if isUniqueViolation(err) {
		return fmt.Errorf("save report of submission %d: a report %w", submissionID, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("save report of submission %d: %w", submissionID, err)
	}
	if user.Valid && r.Status != GradeError {
		for _, id := range r.PassedChecks {
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO lab_check_passes (user_id, lab, check_id, passed_at) VALUES ($1, $2, $3, $4)
				 ON CONFLICT (user_id, lab, check_id) DO NOTHING`,
				user.Int64, lab, id, finished); err != nil {
				return fmt.Errorf("save report of submission %d: passed check %s: %w", submissionID, id, err)
			}
		}
		failed, passedAt := 0, int64(0)
		if r.Status == GradeFail {
			failed = 1
		} else {
			passedAt = finished
		}
		// CASE rather than max(): SQLite's two-argument max is PostgreSQL's
		// GREATEST.
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO lab_progress (user_id, lab, attempts, failed_attempts, best_score, passed_at, last_attempt_at)
			 VALUES ($1, $2, 1, $3, $4, $5, $6)
			 ON CONFLICT (user_id, lab) DO UPDATE SET
			     attempts = lab_progress.attempts + 1,
			     failed_attempts = lab_progress.failed_attempts + excluded.failed_attempts,
			     best_score = CASE WHEN excluded.best_score > lab_progress.best_score
			                       THEN excluded.best_score ELSE lab_progress.best_score END,
			     passed_at = CASE WHEN lab_progress.passed_at = 0
			                      THEN excluded.passed_at ELSE lab_progress.passed_at END,
			     last_attempt_at = excluded.last_attempt_at`,
			user.Int64, lab, failed, r.Score, passedAt, finished); err != nil {
			return fmt.Errorf("save report of submission %d: update progress of user %d in %s: %w", submissionID, user.Int64, lab, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save report of submission %d: commit: %w", submissionID, err)
	}
	return nil
}

// PassedChecks returns the checks of a lab the user has passed in any
// graded attempt, with when each first passed.
func (db *DB) PassedChecks(ctx context.Context, userID int64, lab string) (map[string]time.Time, error) {
	rows, err := db.conn.QueryContext(ctx,
		"SELECT check_id, passed_at FROM lab_check_passes WHERE user_id = $1 AND lab = $2", userID, lab)
	if err != nil {
		return nil, fmt.Errorf("passed checks of user %d in %s: %w", userID, lab, err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var (
			id string
			at int64
		)
		if err := rows.Scan(&id, &at); err != nil {
			return nil, fmt.Errorf("passed checks of user %d in %s: %w", userID, lab, err)
		}
		out[id] = fromNanos(at)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("passed checks of user %d in %s: %w", userID, lab, err)
	}
	return out, nil
}

// Report returns the report of a submission, or ErrNotFound when it has
// none (yet).
func (db *DB) Report(ctx context.Context, submissionID int64) (GradeReport, error) {
	var (
		r        GradeReport
		status   string
		report   string
		finished int64
	)
	err := db.conn.QueryRowContext(ctx,
		"SELECT submission_id, status, score, report, finished_at FROM grade_reports WHERE submission_id = $1", submissionID,
	).Scan(&r.SubmissionID, &status, &r.Score, &report, &finished)
	if errors.Is(err, sql.ErrNoRows) {
		return GradeReport{}, fmt.Errorf("report of submission %d: %w", submissionID, ErrNotFound)
	}
	if err != nil {
		return GradeReport{}, fmt.Errorf("report of submission %d: %w", submissionID, err)
	}
	r.Status = GradeStatus(status)
	r.Report = []byte(report)
	r.FinishedAt = fromNanos(finished)
	return r, nil
}

// LabProgress returns the user's progress in every lab they have attempted,
// by lab id; the map is never nil. ErrNotFound if there is no such user.
func (db *DB) LabProgress(ctx context.Context, userID int64) (map[string]LabProgress, error) {
	if _, err := db.UserByID(ctx, userID); err != nil {
		return nil, fmt.Errorf("lab progress: %w", err)
	}
	rows, err := db.conn.QueryContext(ctx,
		`SELECT lab, attempts, failed_attempts, best_score, passed_at, last_attempt_at
		 FROM lab_progress WHERE user_id = $1`, userID)
	if err != nil {
		return nil, fmt.Errorf("lab progress of user %d: %w", userID, err)
	}
	defer rows.Close()
	out := map[string]LabProgress{}
	for rows.Next() {
		var (
			p            LabProgress
			passed, last int64
		)
		if err := rows.Scan(&p.Lab, &p.Attempts, &p.FailedAttempts, &p.BestScore, &passed, &last); err != nil {
			return nil, fmt.Errorf("lab progress of user %d: %w", userID, err)
		}
		p.PassedAt, p.LastAttemptAt = fromNanos(passed), fromNanos(last)
		out[p.Lab] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lab progress of user %d: %w", userID, err)
	}
	return out, nil
}

// FailedAttempts returns how many of the user's graded submissions of lab
// failed (hints unlock with them); 0 when there are none.
func (db *DB) FailedAttempts(ctx context.Context, userID int64, lab string) (int, error) {
	var n int
	err := db.conn.QueryRowContext(ctx,
		"SELECT failed_attempts FROM lab_progress WHERE user_id = $1 AND lab = $2", userID, lab).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("failed attempts of user %d in %s: %w", userID, lab, err)
	}
	return n, nil
}

const gradingJobColumns = `id, submission_id, user_id, lab, state, cancel_requested,
	queued_at, started_at, finished_at, attempts, error`

func scanGradingJob(row rowScanner) (GradingJob, error) {
	var (
		j                         GradingJob
		user                      sql.NullInt64
		state                     string
		cancel                    int
		queued, started, finished int64
	)
	if err := row.Scan(&j.ID, &j.SubmissionID, &user, &j.Lab, &state, &cancel,
		&queued, &started, &finished, &j.Attempts, &j.Error); err != nil {
		return GradingJob{}, err
	}
	j.UserID = user.Int64
	j.State = GradingState(state)
	j.CancelRequested = cancel == 1
	j.QueuedAt, j.StartedAt, j.FinishedAt = fromNanos(queued), fromNanos(started), fromNanos(finished)
	return j, nil
}

// EnqueueGrading queues a job grading the submission and returns it with
// its position in the queue (1 = next). userID and lab must be the
// submission's (ErrInvalid otherwise). ErrQueueFull when maxQueued jobs
// are queued already (maxQueued 0 or less: no bound); ErrExists when the
// submission already has a job queued or running; ErrNotFound if there is
// no such submission.
func (db *DB) EnqueueGrading(ctx context.Context, submissionID, userID int64, lab string, maxQueued int) (GradingJob, int, error) {
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return GradingJob{}, 0, fmt.Errorf("enqueue grading of submission %d: %w", submissionID, err)
	}
	defer tx.Rollback()
	var (
		owner  sql.NullInt64
		subLab string
	)
	err = tx.QueryRowContext(ctx, "SELECT user_id, lab FROM submissions WHERE id = $1", submissionID).Scan(&owner, &subLab)
	if errors.Is(err, sql.ErrNoRows) {
		return GradingJob{}, 0, fmt.Errorf("enqueue grading of submission %d: submission %w", submissionID, ErrNotFound)
	}
	if err != nil {
		return GradingJob{}, 0, fmt.Errorf("enqueue grading of submission %d: %w", submissionID, err)
	}
	if owner.Int64 != userID || subLab != lab {
		return GradingJob{}, 0, fmt.Errorf("enqueue grading of submission %d: %w: it is user %d's submission of %s, not user %d's of %s",
			submissionID, ErrInvalid, owner.Int64, subLab, userID, lab)
	}
	// The transaction holds the write lock from BEGIN (see _txlock in dsn),
	// so the count cannot change before the insert commits.
	var queued int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM grading_jobs WHERE state = 'queued'").Scan(&queued); err != nil {
		return GradingJob{}, 0, fmt.Errorf("enqueue grading of submission %d: count queued jobs: %w", submissionID, err)
	}
	if maxQueued > 0 && queued >= maxQueued {
		return GradingJob{}, 0, fmt.Errorf("enqueue grading of submission %d: %w: %d jobs queued", submissionID, ErrQueueFull, queued)
	}
	j, err := scanGradingJob(tx.QueryRowContext(ctx,
		`INSERT INTO grading_jobs (submission_id, user_id, lab, state, cancel_requested, queued_at, started_at, finished_at, attempts, error)
		 VALUES ($1, $2, $3, 'queued', 0, $4, 0, 0, 0, '') RETURNING `+gradingJobColumns,
		submissionID, nullID(userID), lab, toNanos(db.now())))
	if isUniqueViolation(err) {
		return GradingJob{}, 0, fmt.Errorf("enqueue grading of submission %d: a job for it %w", submissionID, ErrExists)
	}
	if err != nil {
		return GradingJob{}, 0, fmt.Errorf("enqueue grading of submission %d: %w", submissionID, err)
	}
	if err := tx.Commit(); err != nil {
		return GradingJob{}, 0, fmt.Errorf("enqueue grading of submission %d: commit: %w", submissionID, err)
	}
	// Its id is the highest, so every queued job is ahead of it.
	return j, queued + 1, nil
}

// claimQuery takes the oldest queued job whose learner has no running job.
// ClaimGradingJob runs it in a write transaction (see claim there).
const claimQuery = `UPDATE grading_jobs SET state = 'running', started_at = $1, attempts = attempts + 1
	WHERE state = 'queued' AND id = (
		SELECT j.id FROM grading_jobs j
		WHERE j.state = 'queued' AND (j.user_id IS NULL OR NOT EXISTS (
			SELECT 1 FROM grading_jobs r WHERE r.user_id = j.user_id AND r.state = 'running'))
		ORDER BY j.id LIMIT 1)
	RETURNING ` + gradingJobColumns

// ClaimGradingJob takes the oldest queued job whose learner has no job
// running, marks it running and counts the attempt; ok=false when no job
// can be taken now. It is safe to call from any number of workers.
func (db *DB) ClaimGradingJob(ctx context.Context) (job GradingJob, ok bool, err error) {
	// On its own the statement is safe only on SQLite, which runs one writer
	// at a time. On PostgreSQL two claims would pick the same oldest job in
	// their subqueries: the loser, re-reading the row after the winner's
	// commit, would update nothing and report an empty queue while other
	// jobs wait, or would take a second job of one learner and fail on the
	// unique index. The write transaction's lock (see dialect) makes each
	// claim see the one before it, on both engines.
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return GradingJob{}, false, fmt.Errorf("claim grading job: %w", err)
	}
	defer tx.Rollback()
	j, err := scanGradingJob(tx.QueryRowContext(ctx, claimQuery, toNanos(db.now())))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return GradingJob{}, false, nil
	case err != nil:
		return GradingJob{}, false, fmt.Errorf("claim grading job: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return GradingJob{}, false, fmt.Errorf("claim grading job: commit: %w", err)
	}
	return j, true, nil
}

// gradingJobState reads a job's state inside tx, for the error that says
// why a change did not apply.
func gradingJobState(ctx context.Context, tx *sql.Tx, id int64) (GradingState, error) {
	var state string
	err := tx.QueryRowContext(ctx, "SELECT state FROM grading_jobs WHERE id = $1", id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", err
	}
	return GradingState(state), nil
}

// FinishGradingJob ends a running job as done, canceled or failed; errText
// says why it failed, for people (empty for done). ErrNotFound if there is
// no such job; ErrPrecondition if it is not running (it was finished or
// recovered already).
func (db *DB) FinishGradingJob(ctx context.Context, id int64, state GradingState, errText string) error {
	if !state.Finished() {
		return fmt.Errorf("finish grading job %d: %w: %q is not a final state", id, ErrInvalid, state)
	}
	if !fitsText(errText) {
		return fmt.Errorf("finish grading job %d: %w: the error text is not valid UTF-8", id, ErrInvalid)
	}
	return db.moveRunningJob(ctx, id, "finish",
		"UPDATE grading_jobs SET state = $2, finished_at = $3, error = $4 WHERE id = $1 AND state = 'running'",
		id, string(state), toNanos(db.now()), errText)
}

// RequeueGradingJob puts a running job back in the queue, in its old
// place, for another attempt; errText says why the last one did not
// finish. A job whose cancel was requested becomes canceled instead.
// ErrNotFound if there is no such job; ErrPrecondition if it is not
// running.
func (db *DB) RequeueGradingJob(ctx context.Context, id int64, errText string) error {
	if !fitsText(errText) {
		return fmt.Errorf("requeue grading job %d: %w: the error text is not valid UTF-8", id, ErrInvalid)
	}
	// The CAST: PostgreSQL would otherwise type $2 after the 0 beside it,
	// as a 32-bit integer, too small for nanoseconds.
	return db.moveRunningJob(ctx, id, "requeue",
		`UPDATE grading_jobs SET
		     state = CASE WHEN cancel_requested = 1 THEN 'canceled' ELSE 'queued' END,
		     finished_at = CASE WHEN cancel_requested = 1 THEN CAST($2 AS BIGINT) ELSE 0 END,
		     started_at = CASE WHEN cancel_requested = 1 THEN started_at ELSE 0 END,
		     error = $3
		 WHERE id = $1 AND state = 'running'`,
		id, toNanos(db.now()), errText)
}

func (db *DB) moveRunningJob(ctx context.Context, id int64, op, query string, args ...any) error {
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s grading job %d: %w", op, id, err)
	}
	defer tx.Rollback()
	n, err := lambdaAffected(tx.ExecContext(ctx, query, args...))
	if err != nil {
		return fmt.Errorf("%s grading job %d: %w", op, id, err)
	}
	if n == 0 {
		state, err := gradingJobState(ctx, tx, id)
		if err != nil {
			return fmt.Errorf("%s grading job %d: %w", op, id, err)
		}
		return fmt.Errorf("%s grading job %d: %w: it is %s, not running", op, id, ErrPrecondition, state)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s grading job %d: commit: %w", op, id, err)
	}
	return nil
}

// CancelGradingJob cancels a job. A queued job is canceled at once
// (canceled=true). A running one is marked CancelRequested for its worker
// to stop (canceled=false), as is nothing about a finished one.
// ErrNotFound if there is no such job.
func (db *DB) CancelGradingJob(ctx context.Context, id int64) (canceled bool, err error) {
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("cancel grading job %d: %w", id, err)
	}
	defer tx.Rollback()
	n, err := lambdaAffected(tx.ExecContext(ctx,
		"UPDATE grading_jobs SET state = 'canceled', finished_at = $2 WHERE id = $1 AND state = 'queued'",
		id, toNanos(db.now())))
	if err != nil {
		return false, fmt.Errorf("cancel grading job %d: %w", id, err)
	}
	canceled = n == 1
	if !canceled {
		n, err = lambdaAffected(tx.ExecContext(ctx,
			"UPDATE grading_jobs SET cancel_requested = 1 WHERE id = $1 AND state = 'running'", id))
		if err != nil {
			return false, fmt.Errorf("cancel grading job %d: %w", id, err)
		}
		if n == 0 {
			if _, err := gradingJobState(ctx, tx, id); err != nil {
				return false, fmt.Errorf("cancel grading job %d: %w", id, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("cancel grading job %d: commit: %w", id, err)
	}
	return canceled, nil
}

// GradingJob returns the job with this id, or ErrNotFound.
func (db *DB) GradingJob(ctx context.Context, id int64) (GradingJob, error) {
	j, err := scanGradingJob(db.conn.QueryRowContext(ctx,
		"SELECT "+gradingJobColumns+" FROM grading_jobs WHERE id = $1", id))
	if errors.Is(err, sql.ErrNoRows) {
		return GradingJob{}, fmt.Errorf("grading job %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return GradingJob{}, fmt.Errorf("grading job %d: %w", id, err)
	}
	return j, nil
}

// QueuePosition returns a queued job's place in the queue, 1 for the next
// to run, and 0 for a job that is not queued. ErrNotFound if there is no
// such job. A learner's job waits while their other job runs, so the
// position is an estimate: a job behind it may run first.
func (db *DB) QueuePosition(ctx context.Context, id int64) (int, error) {
	var (
		state string
		ahead int
	)
	err := db.conn.QueryRowContext(ctx,
		`SELECT j.state, (SELECT count(*) FROM grading_jobs q WHERE q.state = 'queued' AND q.id < j.id)
		 FROM grading_jobs j WHERE j.id = $1`, id).Scan(&state, &ahead)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("queue position of grading job %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("queue position of grading job %d: %w", id, err)
	}
	if GradingState(state) != GradingQueued {
		return 0, nil
	}
	return ahead + 1, nil
}

// QueuedGradingJobs returns how many jobs are queued.
func (db *DB) QueuedGradingJobs(ctx context.Context) (int, error) {
	var n int
	if err := db.conn.QueryRowContext(ctx, "SELECT count(*) FROM grading_jobs WHERE state = 'queued'").Scan(&n); err != nil {
		return 0, fmt.Errorf("count queued grading jobs: %w", err)
	}
	return n, nil
}

// RecoverGradingJobs settles the jobs a dead process left running. Call it
// once at start-up, before any worker claims a job: only one lambdalab
// process serves a data directory, so every running job is then an
// orphan. A job with fewer than maxAttempts attempts goes back to the
// queue in its old place; one that has had them all fails with an error
// saying grading was interrupted; one whose cancel was requested is
// canceled. All in one transaction: no job is lost or left running.
func (db *DB) RecoverGradingJobs(ctx context.Context, maxAttempts int) (requeued, failed int, err error) {
	if maxAttempts < 1 {
		return 0, 0, fmt.Errorf("recover grading jobs: %w: max attempts %d is less than 1", ErrInvalid, maxAttempts)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("recover grading jobs: %w", err)
	}
	defer tx.Rollback()
	now := toNanos(db.now())
	if _, err := tx.ExecContext(ctx,
		"UPDATE grading_jobs SET state = 'canceled', finished_at = $1 WHERE state = 'running' AND cancel_requested = 1", now); err != nil {
		return 0, 0, fmt.Errorf("recover grading jobs: cancel: %w", err)
	}
	n, err := lambdaAffected(tx.ExecContext(ctx,
		`UPDATE grading_jobs SET state = 'queued', started_at = 0,
		     error = 'the previous attempt was interrupted when the server stopped'
		 WHERE state = 'running' AND attempts < $1`, maxAttempts))
	if err != nil {
		return 0, 0, fmt.Errorf("recover grading jobs: requeue: %w", err)
	}
	requeued = int(n)
	n, err = lambdaAffected(tx.ExecContext(ctx,
		"UPDATE grading_jobs SET state = 'failed', finished_at = $1, error = $2 WHERE state = 'running'",
		now, InterruptedError))
	if err != nil {
		return 0, 0, fmt.Errorf("recover grading jobs: fail: %w", err)
	}
	failed = int(n)
	if err := tx.Commit(); err != nil {
		return 0, 0, fmt.Errorf("recover grading jobs: commit: %w", err)
	}
	return requeued, failed, nil
}

// InterruptedError is the Error of a job RecoverGradingJobs failed: the
// server stopped during its last allowed attempt.
const InterruptedError = "grading was interrupted: the server stopped while grading this submission, " +
	"too many times to try again; please submit it again"
