package model

// catalogueV1 is the version number of the catalogue DefaultCatalogue returns.
const catalogueV1 = 1

var (
	adultChild = []Audience{AudienceAdult, AudienceChild}
	adultOnly  = []Audience{AudienceAdult}
	childOnly  = []Audience{AudienceChild}
)

// DefaultCatalogue returns version 1 of the trafficking indicator catalogue.
// Each call returns a fresh copy, with its own slices, that the caller may
// keep and modify.
//
// The indicators follow the six dimensions of the ILO/European Commission
// "Operational indicators of trafficking in human beings" (Delphi survey,
// 2009). The adult and child sets and the labour and sexual exploitation
// sets are merged: an indicator that appears in several sets is one entry
// whose Audiences name adult, child or both. Labels are paraphrased, not
// quoted.
//
// Versioning: a Code is stored in records for years, so it is never reused
// and never changes meaning. A label may be reworded within a version as
// long as the meaning stays the same. Any other change - adding an
// indicator, retiring one, or changing what one means - makes a new
// catalogue version; a changed meaning is expressed by retiring the old code
// and adding a new one. Retired codes are kept out of new versions but never
// given to another indicator.
func DefaultCatalogue() *Catalogue {
	inds := make([]Indicator, len(indicatorsV1))
	for i, in := range indicatorsV1 {
		in.Audiences = append([]Audience(nil), in.Audiences...)
		inds[i] = in
	}
	return &Catalogue{Version: catalogueV1, Indicators: inds}
}

// ind builds a catalogue entry.
func ind(code string, dim Dimension, aud []Audience, label string) Indicator {
	return Indicator{Code: code, Dimension: dim, Audiences: aud, Label: label}
}

// indicatorsV1 is the master copy of catalogue version 1. It is never handed
// out: DefaultCatalogue copies it.
var indicatorsV1 = []Indicator{
	// Deceptive recruitment: deceived about the nature, place or terms of the work.
	ind("deceived_nature_of_job", DimDeceptiveRecruitment, adultChild, "Deceived about the kind of work, the workplace or the employer"),
	ind("deceived_working_conditions", DimDeceptiveRecruitment, adultChild, "Deceived about working conditions such as hours or tasks"),
	ind("deceived_contract", DimDeceptiveRecruitment, adultOnly, "Deceived about what the work contract says or whether it is legal"),
	ind("deceived_wages", DimDeceptiveRecruitment, adultChild, "Deceived about pay or earnings"),
	ind("deceived_housing_living_conditions", DimDeceptiveRecruitment, adultChild, "Deceived about housing or living conditions"),
	ind("deceived_legal_status_documents", DimDeceptiveRecruitment, adultChild, "Deceived about papers, visas or getting legal residence or work status"),
	ind("deceived_travel_recruitment_conditions", DimDeceptiveRecruitment, adultChild, "Deceived about the journey or the terms and costs of recruitment"),
	ind("deceived_family_reunification", DimDeceptiveRecruitment, adultChild, "Falsely promised reunion with family"),
	ind("deceived_education_opportunities", DimDeceptiveRecruitment, childOnly, "Falsely promised schooling or training"),
	ind("deceived_conditions_of_sex_work", DimDeceptiveRecruitment, adultOnly, "Deceived about the conditions of sex work, such as earnings, clients or freedom to stop"),
	ind("false_promise_of_marriage_or_adoption", DimDeceptiveRecruitment, adultChild, "Lured by a false promise of marriage, a relationship or adoption"),
	ind("distorted_image_of_destination", DimDeceptiveRecruitment, adultChild, "Given a false picture of life and chances at the destination"),
	ind("parents_deceived", DimDeceptiveRecruitment, childOnly, "Parents or guardians were deceived about the child's work, care or schooling"),

	// Coercive recruitment: force or threats used to recruit or move the person.
	ind("violence_at_recruitment", DimCoerciveRecruitment, adultChild, "Subjected to violence during recruitment or the journey"),
	ind("abduction", DimCoerciveRecruitment, adultChild, "Abducted or taken by force"),
	ind("sold_or_forced_marriage_or_adoption", DimCoerciveRecruitment, adultChild, "Sold, or forced into marriage or adoption"),
	ind("documents_taken_at_recruitment", DimCoerciveRecruitment, adultChild, "Identity or travel papers taken during recruitment or the journey"),
	ind("debt_at_recruitment", DimCoerciveRecruitment, adultChild, "Bound by a debt for fees, travel or an advance at recruitment"),
	ind("confined_during_recruitment", DimCoerciveRecruitment, adultChild, "Isolated, locked in or watched during recruitment or the journey"),
	ind("threat_of_denunciation_at_recruitment", DimCoerciveRecruitment, adultChild, "Threatened with being reported to the police or immigration"),
	ind("threat_of_exposure_at_recruitment", DimCoerciveRecruitment, adultChild, "Threatened that family, community or the public will be told things"),
	ind("threats_of_violence_at_recruitment", DimCoerciveRecruitment, adultChild, "Threatened with violence during recruitment"),
	ind("family_harmed_at_recruitment", DimCoerciveRecruitment, adultChild, "Family threatened or harmed to force recruitment"),
	ind("money_withheld_at_recruitment", DimCoerciveRecruitment, adultChild, "Money or belongings taken or held back during recruitment"),
	ind("drugs_used_at_recruitment", DimCoerciveRecruitment, adultChild, "Given drugs or alcohol to gain control"),

	// Recruitment by abuse of vulnerability: a weak position exploited to recruit.
	ind("abuse_of_family_situation", DimRecruitmentAbuseVuln, adultChild, "A difficult family situation was exploited"),
	ind("abuse_of_irregular_status", DimRecruitmentAbuseVuln, adultChild, "Irregular migration or residence status was exploited"),
	ind("abuse_of_lack_of_education", DimRecruitmentAbuseVuln, adultChild, "Little schooling or literacy was exploited"),
	ind("abuse_of_lack_of_information", DimRecruitmentAbuseVuln, adultChild, "Lack of information about work, rights or the destination was exploited"),
	ind("recruiter_controls_person", DimRecruitmentAbuseVuln, adultChild, "Recruited by someone who already had control over the person"),
	ind("abuse_of_economic_situation", DimRecruitmentAbuseVuln, adultChild, "Poverty, unemployment or debt was exploited"),
	ind("false_information_about_law", DimRecruitmentAbuseVuln, adultChild, "Given false information about the law or how the authorities act"),
	ind("false_information_about_migration", DimRecruitmentAbuseVuln, adultChild, "Given false stories of successful migration"),
	ind("abuse_of_personal_situation", DimRecruitmentAbuseVuln, adultChild, "Illness, disability, addiction, pregnancy or another personal situation was exploited"),
	ind("abuse_of_emotional_dependency", DimRecruitmentAbuseVuln, adultChild, "Emotional or psychological dependency, such as on a partner, was exploited"),
	ind("abuse_of_fear_of_authorities", DimRecruitmentAbuseVuln, adultChild, "Fear or distrust of the authorities was exploited"),
	ind("abuse_of_general_context", DimRecruitmentAbuseVuln, adultChild, "War, disaster or instability in the home area was exploited"),
	ind("abuse_of_past_trauma", DimRecruitmentAbuseVuln, adultChild, "Past abuse or trauma was exploited"),
	ind("abuse_of_cultural_religious_beliefs", DimRecruitmentAbuseVuln, adultChild, "Cultural or religious beliefs were used, such as oaths or rituals"),
	ind("abuse_of_position_of_authority", DimRecruitmentAbuseVuln, childOnly, "A parent, relative or other person with authority over the child used that position"),
	ind("child_without_parental_care", DimRecruitmentAbuseVuln, childOnly, "The child was unaccompanied, separated from parents, in an institution or on the street"),

	// Exploitative conditions of work.
	ind("excessive_working_hours", DimExploitativeConditions, adultChild, "Made to work excessive hours or days without rest"),
	ind("bad_living_conditions", DimExploitativeConditions, adultChild, "Poor or degrading living conditions"),
	ind("hazardous_work", DimExploitativeConditions, adultChild, "Dangerous or hazardous work"),
	ind("low_or_no_pay", DimExploitativeConditions, adultChild, "Paid very little or nothing"),
	ind("labour_law_or_contract_breached", DimExploitativeConditions, adultOnly, "Labour law or the signed contract not respected"),
	ind("no_social_protection", DimExploitativeConditions, adultOnly, "No contract, social insurance or other protection"),
	ind("very_bad_working_conditions", DimExploitativeConditions, adultChild, "Very bad working conditions"),
	ind("wage_manipulation", DimExploitativeConditions, adultChild, "Pay manipulated through deductions, fines or inflated charges"),
	ind("no_access_to_education", DimExploitativeConditions, childOnly, "Kept out of school"),
	ind("work_unsuitable_for_age", DimExploitativeConditions, childOnly, "Below the minimum working age or doing work unsuitable for the child's age"),
	ind("no_choice_of_clients_or_practices", DimExploitativeConditions, adultChild, "No say over clients, their number or sexual practices"),
	ind("no_control_over_sexual_health", DimExploitativeConditions, adultChild, "Made to have unprotected sex, or contraception or pregnancy controlled by others"),
	ind("no_access_to_health_care", DimExploitativeConditions, adultChild, "Denied needed medical care"),

	// Coercion at destination.
	ind("documents_withheld", DimCoercionAtDestination, adultChild, "Identity or travel papers held by someone else"),
	ind("debt_bondage", DimCoercionAtDestination, adultChild, "Kept working to pay off a debt that cannot be repaid or keeps growing"),
	ind("isolation_confinement_surveillance", DimCoercionAtDestination, adultChild, "Isolated, locked in or kept under watch"),
	ind("violence_against_victim", DimCoercionAtDestination, adultChild, "Subjected to physical or sexual violence"),
	ind("forced_criminal_activities", DimCoercionAtDestination, adultChild, "Forced into illegal activities such as theft, drug dealing or begging"),
	ind("forced_tasks_or_clients", DimCoercionAtDestination, adultChild, "Forced to do tasks or see clients they did not agree to"),
	ind("forced_to_act_against_peers", DimCoercionAtDestination, adultChild, "Forced to control, harm or recruit other victims"),
	ind("forced_to_lie", DimCoercionAtDestination, adultChild, "Forced to lie to the authorities, family or others"),
	ind("threat_of_denunciation", DimCoercionAtDestination, adultChild, "Threatened with being reported to the police or immigration"),
	ind("threat_of_worse_conditions", DimCoercionAtDestination, adultChild, "Threatened with even worse work or living conditions"),
	ind("threats_of_violence", DimCoercionAtDestination, adultChild, "Threatened with violence"),
	ind("threat_of_exposure", DimCoercionAtDestination, adultChild, "Threatened that family, community or the public will be told things"),
	ind("under_strong_influence", DimCoercionAtDestination, adultChild, "Under the strong influence or emotional control of the exploiter"),
	ind("family_threatened_or_harmed", DimCoercionAtDestination, adultChild, "Family threatened or harmed"),
	ind("no_access_to_earnings", DimCoercionAtDestination, adultChild, "Earnings withheld or taken by others"),
	ind("forced_drug_use", DimCoercionAtDestination, adultChild, "Made to take drugs or alcohol to keep control"),

	// Abuse of vulnerability at destination.
	ind("dependency_on_exploiters", DimAbuseOfVulnAtDestination, adultChild, "Depends on the exploiters for housing, food, work or papers"),
	ind("difficulty_living_in_unknown_area", DimAbuseOfVulnAtDestination, adultChild, "Struggles to cope in an unfamiliar place or language"),
	ind("economic_pressure_at_destination", DimAbuseOfVulnAtDestination, adultChild, "Economic pressure, such as debts or a family relying on remittances"),
	ind("family_situation_at_destination", DimAbuseOfVulnAtDestination, adultChild, "Family situation keeps the person in place"),
	ind("irregular_status_at_destination", DimAbuseOfVulnAtDestination, adultChild, "Irregular status or fear of the authorities is exploited"),
	ind("personal_situation_at_destination", DimAbuseOfVulnAtDestination, adultChild, "Age, illness, disability, addiction or another personal situation is exploited"),
	ind("fear_of_shame_or_stigma", DimAbuseOfVulnAtDestination, adultChild, "Fear of shame or stigma keeps the person from leaving or seeking help"),
	ind("no_alternative_to_staying", DimAbuseOfVulnAtDestination, adultChild, "Has nowhere to go and no means to leave"),
	ind("no_caregiver_at_destination", DimAbuseOfVulnAtDestination, childOnly, "Child has no parent or legal guardian at the destination"),
}
